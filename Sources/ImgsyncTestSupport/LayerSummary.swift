import ImgsyncCore

/// What `LayerGenerator` wrote.
public struct LayerSummary: Sendable, Equatable {
    /// Regular-file entries.
    public var fileCount = 0
    public var directoryCount = 0
    public var symlinkCount = 0
    public var hardlinkCount = 0
    /// Regular files whose body repeats an earlier file's body.
    public var duplicateBodyCount = 0
    /// Sum of regular-file body sizes.
    public var totalBodyBytes: Int64 = 0
    /// Size of the tar stream, end-of-archive marker included.
    public var tarByteCount: Int64 = 0
    /// sha256 of the tar stream (the layer's DiffID).
    public var diffID: Digest = .empty

    /// All entries: directories, files and links.
    public var entryCount: Int { fileCount + directoryCount + symlinkCount + hardlinkCount }

    public init() {}
}
