/// Resource bounds for reading and applying one layer (docs/conformance.md D11). Hitting one is
/// `ImgsyncError(.limit)` for that image. Codable: a build job carries the limits to its worker
/// process (`BuildJob`).
public struct LayerLimits: Sendable, Codable {
    /// Largest PAX extended header or GNU long-name/long-link record.
    public var maxExtendedHeader: Int = 1 << 20
    /// Largest GNU sparse map (bytes of map text or number of regions × 24).
    public var maxSparseMap: Int = 1 << 20
    /// Bytes one layer expands to: its decompressed tar stream plus the holes of its sparse files
    /// (docs/conformance.md D11 says why 256 GiB).
    public var maxLayerBytes: Int64 = 256 << 30
    /// Bytes all layers of an image expand to, counted the same way.
    public var maxImageBytes: Int64 = 1 << 40
    /// Tar entries per layer.
    public var maxEntries: Int = 10_000_000
    /// Bytes in one entry name after normalisation.
    public var maxPathLength: Int = 64 * 1024
    /// Components in one entry name after normalisation.
    public var maxPathDepth: Int = 8192
    /// Symlinks followed while resolving one path (like the kernel's 40).
    public var maxSymlinkHops: Int = 40

    public init() {}
}
