import Foundation

/// The media types the client negotiates and recognises.
public enum MediaType {
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json"
    public static let dockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"

    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"

    public static let ociLayer = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let ociLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let ociLayerNondistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar"
    public static let ociLayerNondistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    public static let ociLayerNondistributableZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let dockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

    /// The `Accept` header of every manifest request (R14): indexes and manifests, OCI and Docker v2.
    public static let manifestAccept = [ociIndex, ociManifest, dockerManifestList, dockerManifest].joined(separator: ", ")

    public static let indexTypes: Set<String> = [ociIndex, dockerManifestList]
    public static let manifestTypes: Set<String> = [ociManifest, dockerManifest]
    public static let configTypes: Set<String> = [ociConfig, dockerConfig]
    public static let layerTypes: Set<String> = [
        ociLayer, ociLayerGzip, ociLayerZstd, ociLayerNondistributable, ociLayerNondistributableGzip,
        ociLayerNondistributableZstd, dockerLayerGzip, dockerForeignLayerGzip,
    ]
    /// Layers that may be fetched from their descriptor's `urls` when the registry lacks them (R40).
    public static let foreignLayerTypes: Set<String> = [
        dockerForeignLayerGzip, ociLayerNondistributable, ociLayerNondistributableGzip, ociLayerNondistributableZstd,
    ]

    /// `type/subtype` without parameters, lowercased (R15).
    public static func essence(_ contentType: String?) -> String? {
        guard let contentType else { return nil }
        let base = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let trimmed = base.trimmingCharacters(in: .whitespaces).lowercased()
        return trimmed.isEmpty ? nil : trimmed
    }
}
