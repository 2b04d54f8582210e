/// The type of a path in a catalog.
public enum CatalogEntryType: UInt8, Sendable, Equatable, CustomStringConvertible {
    case directory = 1, regular = 2, symlink = 3, charDevice = 4, blockDevice = 5, fifo = 6

    public var description: String {
        switch self {
        case .directory: "dir"
        case .regular: "file"
        case .symlink: "symlink"
        case .charDevice: "char"
        case .blockDevice: "block"
        case .fifo: "fifo"
        }
    }
}

/// One extended attribute as recorded (names and values are bytes).
public struct Xattr: Sendable, Equatable {
    public var name: PathBytes
    public var value: [UInt8]
    public init(name: PathBytes, value: [UInt8]) {
        self.name = name
        self.value = value
    }
}

/// The exact metadata of one path as the layers said (docs/design.md §2 "Catalog"): not what is on disk.
public struct CatalogEntry: Sendable, Equatable {
    /// Equal paths and metadata; `canonicalObject`, a hint about the object store, is not compared.
    public static func == (a: CatalogEntry, b: CatalogEntry) -> Bool {
        a.path == b.path && a.type == b.type && a.mode == b.mode && a.uid == b.uid && a.gid == b.gid && a.mtime == b.mtime
            && a.mtimeNsec == b.mtimeNsec && a.size == b.size && a.sha256 == b.sha256 && a.linkTarget == b.linkTarget
            && a.linkGroup == b.linkGroup && a.devMajor == b.devMajor && a.devMinor == b.devMinor && a.xattrs == b.xattrs
            && a.implied == b.implied
    }

    /// Relative path bytes; empty for the tree root.
    public var path: PathBytes
    public var type: CatalogEntryType
    /// Permission bits including setuid, setgid and sticky (`mode & 0o7777`).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var mtime: Int64
    public var mtimeNsec: UInt32
    /// Body size of a regular file, otherwise 0.
    public var size: Int64
    /// sha256 of a regular file's body.
    public var sha256: Digest?
    /// Symlink target, verbatim.
    public var linkTarget: PathBytes
    /// Non-zero for paths that share an inode with another path (equal values = one group).
    public var linkGroup: UInt64
    public var devMajor: UInt32
    public var devMinor: UInt32
    public var xattrs: [Xattr]
    /// A directory created only because an entry needed it as a parent.
    public var implied: Bool
    /// A hint for a tree built from this catalog (hardlink mode): when the catalog was written, the
    /// canonical object of `sha256` had this entry's shared mode and mtime, so the body can be
    /// linked without checking it first. Not part of the metadata; false is always safe.
    public var canonicalObject = false

    public init(path: PathBytes, type: CatalogEntryType, mode: UInt32 = 0, uid: UInt32 = 0, gid: UInt32 = 0,
                mtime: Int64 = 0, mtimeNsec: UInt32 = 0, size: Int64 = 0, sha256: Digest? = nil,
                linkTarget: PathBytes = [], linkGroup: UInt64 = 0, devMajor: UInt32 = 0, devMinor: UInt32 = 0,
                xattrs: [Xattr] = [], implied: Bool = false) {
        self.path = path
        self.type = type
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.mtimeNsec = mtimeNsec
        self.size = size
        self.sha256 = sha256
        self.linkTarget = linkTarget
        self.linkGroup = linkGroup
        self.devMajor = devMajor
        self.devMinor = devMinor
        self.xattrs = xattrs
        self.implied = implied
    }
}
