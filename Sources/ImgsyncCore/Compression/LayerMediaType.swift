/// A layer descriptor's media type (docs/conformance.md U137), parsed into the compression it implies.
/// Accepts the OCI layer types (plain, nondistributable; tar, +gzip, +zstd) and Docker's
/// `rootfs.diff.tar[.gzip]` and `rootfs.foreign.diff.tar.gzip`; anything else is unsupported.
public struct LayerMediaType: Sendable, Hashable, CustomStringConvertible {
    /// The media type string.
    public let rawValue: String
    /// How the layer blob is compressed.
    public let compression: LayerCompression
    /// OCI nondistributable or Docker foreign layers, which registries may refuse to serve.
    public let isNondistributable: Bool

    private static let known: [String: (LayerCompression, Bool)] = [
        "application/vnd.oci.image.layer.v1.tar": (.none, false),
        "application/vnd.oci.image.layer.v1.tar+gzip": (.gzip, false),
        "application/vnd.oci.image.layer.v1.tar+zstd": (.zstd, false),
        "application/vnd.oci.image.layer.nondistributable.v1.tar": (.none, true),
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": (.gzip, true),
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": (.zstd, true),
        "application/vnd.docker.image.rootfs.diff.tar": (.none, false),
        "application/vnd.docker.image.rootfs.diff.tar.gzip": (.gzip, false),
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": (.gzip, true),
    ]

    private static let cliNames: [String: LayerCompression] = [
        "tar": .none, "gzip": .gzip, "tar+gzip": .gzip, "zstd": .zstd, "tar+zstd": .zstd,
    ]

    /// Parses a media type exactly as written in a manifest; throws `.unsupportedMediaType` otherwise.
    public init(_ mediaType: String) throws {
        guard let (compression, nondistributable) = Self.known[mediaType] else {
            throw ImgsyncError(
                .unsupportedMediaType,
                "unsupported layer media type \"\(mediaType)\"\(mediaType.isEmpty ? " (empty)" : ""): "
                    + "imgsync applies OCI and Docker tar layers that are uncompressed, "
                    + "gzip or zstd compressed (e.g. application/vnd.oci.image.layer.v1.tar+gzip)"
            )
        }
        self.rawValue = mediaType
        self.compression = compression
        self.isNondistributable = nondistributable
    }

    /// Parses a command-line name: "tar", "gzip", "zstd", "tar+gzip", "tar+zstd" (giving the OCI media
    /// type) or any full media type `init(_:)` accepts.
    public init(cliName: String) throws {
        guard let compression = Self.cliNames[cliName] else {
            do {
                try self.init(cliName)
            } catch {
                throw ImgsyncError(
                    .unsupportedMediaType,
                    "unsupported layer compression \"\(cliName)\": use tar, gzip, zstd or a layer media type "
                        + "such as application/vnd.oci.image.layer.v1.tar+gzip"
                )
            }
            return
        }
        try self.init(Self.ociMediaType(for: compression))
    }

    /// The OCI (distributable) layer media type for `compression`.
    public static func ociMediaType(for compression: LayerCompression) -> String {
        switch compression {
        case .none: "application/vnd.oci.image.layer.v1.tar"
        case .gzip: "application/vnd.oci.image.layer.v1.tar+gzip"
        case .zstd: "application/vnd.oci.image.layer.v1.tar+zstd"
        }
    }

    public var description: String { rawValue }
}
