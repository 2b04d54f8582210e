/// The kind of object a tar header describes, after typeflag interpretation.
public enum TarEntryKind: UInt8, Sendable, Equatable {
    case regular, hardlink, symlink, charDevice, blockDevice, directory, fifo
}

/// One logical tar entry: its header fields with PAX / GNU long-name overrides already applied.
/// Names and link targets are raw bytes.
public struct TarEntry: Sendable {
    public var kind: TarEntryKind
    /// The entry name exactly as the archive gives it (before normalisation).
    public var name: PathBytes
    /// Symlink target or hardlink target, raw.
    public var linkName: PathBytes
    public var mode: UInt32
    public var uid: Int64
    public var gid: Int64
    public var mtime: Int64
    public var mtimeNsec: UInt32
    /// Logical size of the body (for sparse files, the real size).
    public var size: Int64
    public var devMajor: UInt32
    public var devMinor: UInt32
    /// Extended attributes in archive order (names and values are bytes).
    public var xattrs: [(name: PathBytes, value: [UInt8])]
    /// Data regions of a sparse file, ascending and non-overlapping; nil for a dense file.
    public var sparse: [(offset: Int64, length: Int64)]?

    public init(kind: TarEntryKind, name: PathBytes) {
        self.kind = kind
        self.name = name
        linkName = []
        mode = 0
        uid = 0
        gid = 0
        mtime = 0
        mtimeNsec = 0
        size = 0
        devMajor = 0
        devMinor = 0
        xattrs = []
        sparse = nil
    }
}
