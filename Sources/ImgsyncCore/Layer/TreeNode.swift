/// Metadata of one inode in the tree being built. Several `TreeNode`s share an `Inode` when the
/// layers hard-link them; the header metadata of a hardlink entry is ignored (D6).
final class Inode {
    // Declared in this order so that the fields pack into 104 bytes (120 with the object header, a
    // 128-byte heap block; 144 bytes and a 160-byte block in declaration order by meaning): a
    // layer of half a million files holds half a million inodes.
    var mtime: Int64
    var size: Int64 = 0
    var sha256: Digest?
    var mode: UInt32
    var uid: UInt32
    var gid: UInt32
    var mtimeNsec: UInt32
    var devMajor: UInt32 = 0
    var devMinor: UInt32 = 0
    /// How many tree nodes reference this inode.
    var links: Int32 = 0
    /// Scratch for catalog writing (link group numbering).
    var group: UInt32 = 0
    var type: CatalogEntryType
    var implied = false
    var linkTarget: PathBytes = []
    var xattrs: [Xattr] = []

    /// A new inode with the same metadata and content description, referenced by no node yet.
    func duplicate() -> Inode {
        let copy = Inode(type: type, mode: mode, uid: uid, gid: gid, mtime: mtime, mtimeNsec: mtimeNsec)
        (copy.size, copy.sha256, copy.linkTarget) = (size, sha256, linkTarget)
        (copy.devMajor, copy.devMinor, copy.xattrs, copy.implied) = (devMajor, devMinor, xattrs, implied)
        return copy
    }

    init(type: CatalogEntryType, mode: UInt32, uid: UInt32 = 0, gid: UInt32 = 0, mtime: Int64 = 0, mtimeNsec: UInt32 = 0) {
        self.type = type
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.mtimeNsec = mtimeNsec
    }
}

/// One path in the in-memory model of the tree. The model mirrors the staging tree on disk exactly
/// (plus devices and FIFOs, which exist only here), so symlinks are resolved in the model and every
/// disk operation then walks real directories with O_NOFOLLOW.
final class TreeNode {
    // 40 bytes of fields (56 with the object header, a 64-byte heap block): one node per path.
    let name: PathBytes
    /// The containing directory; nil only for the root. Nodes are owned by their parent's `children`.
    unowned(unsafe) var parent: TreeNode?
    var inode: Inode
    var children: [PathBytes: TreeNode] = [:]
    /// Index of the layer that last wrote this path or a path below it (the "upper" set, D3).
    var stamp: Int32 = -1
    /// Cached open directory fd (directories only), or -1.
    var fd: Int32 = -1

    init(name: PathBytes, parent: TreeNode?, inode: Inode) {
        self.name = name
        self.parent = parent
        self.inode = inode
        inode.links += 1
    }

    var isDirectory: Bool { inode.type == .directory }

    /// Whether this node exists on disk (devices and FIFOs are recorded only).
    var isOnDisk: Bool {
        switch inode.type {
        case .directory, .regular, .symlink: true
        case .charDevice, .blockDevice, .fifo: false
        }
    }

    /// The path from the root, for messages.
    var path: PathBytes {
        var parts: [PathBytes] = []
        var n: TreeNode? = self
        while let cur = n, cur.parent != nil {
            parts.append(cur.name)
            n = cur.parent
        }
        var out: PathBytes = []
        for p in parts.reversed() {
            if !out.isEmpty { out.append(0x2F) }
            out += p
        }
        return out
    }
}
