/// Metadata of one inode in the tree being built. Several `TreeNode`s share an `Inode` when the
/// layers hard-link them; the header metadata of a hardlink entry is ignored (D6).
///
/// 72 bytes of fields (88 with the object header, a 96-byte heap block; it was a 128-byte block):
/// a layer of half a million files holds half a million inodes. What most inodes do not need
/// (a symlink's target, device numbers, xattrs, ids above 65,535, mode bits above 0o7777) lives in
/// `Extras`, made when first set. Fields the file writer's threads write (`sha256`, through the
/// digest and `hasDigest`) have bytes of their own, so they never share a word the applier
/// writes while a job owns the inode.
final class Inode {
    var mtime: Int64
    var size: Int64 = 0
    private var digest = Digest.zero
    /// The permission bits (low 12) and the type's raw value (high 4).
    private var modeAndType: UInt16
    var implied = false
    private var hasDigest = false
    private var uid16: UInt16 = 0
    private var gid16: UInt16 = 0
    var mtimeNsec: UInt32
    /// How many tree nodes reference this inode.
    var links: Int32 = 0
    private var extras: Extras?

    /// What few inodes have.
    private final class Extras {
        var linkTarget: PathBytes = []
        var xattrs: [Xattr] = []
        var devMajor: UInt32 = 0
        var devMinor: UInt32 = 0
        var uid: UInt32?
        var gid: UInt32?
        var mode: UInt32?

        func copy() -> Extras {
            let c = Extras()
            (c.linkTarget, c.xattrs, c.devMajor, c.devMinor) = (linkTarget, xattrs, devMajor, devMinor)
            (c.uid, c.gid, c.mode) = (uid, gid, mode)
            return c
        }
    }

    private var extra: Extras {
        if let extras { return extras }
        let e = Extras()
        extras = e
        return e
    }

    var sha256: Digest? {
        get { hasDigest ? digest : nil }
        set {
            digest = newValue ?? .zero
            hasDigest = newValue != nil
        }
    }

    var type: CatalogEntryType {
        get { CatalogEntryType(rawValue: UInt8(modeAndType >> 12))! }
        set { modeAndType = modeAndType & 0x0FFF | UInt16(newValue.rawValue) << 12 }
    }

    var mode: UInt32 {
        get { extras?.mode ?? UInt32(modeAndType & 0x0FFF) }
        set {
            if newValue <= 0o7777 {
                modeAndType = modeAndType & 0xF000 | UInt16(newValue)
                if extras?.mode != nil { extras!.mode = nil }
            } else {
                extra.mode = newValue
            }
        }
    }

    var uid: UInt32 {
        get { extras?.uid ?? UInt32(uid16) }
        set { setID(newValue, inline: &uid16, wide: \.uid) }
    }

    var gid: UInt32 {
        get { extras?.gid ?? UInt32(gid16) }
        set { setID(newValue, inline: &gid16, wide: \.gid) }
    }

    /// An id in its 16 inline bits, or in the extras when it is wider.
    private func setID(_ value: UInt32, inline: inout UInt16, wide: ReferenceWritableKeyPath<Extras, UInt32?>) {
        if let small = UInt16(exactly: value) {
            inline = small
            if let extras, extras[keyPath: wide] != nil { extras[keyPath: wide] = nil }
        } else {
            extra[keyPath: wide] = value
        }
    }

    var linkTarget: PathBytes {
        get { extras?.linkTarget ?? [] }
        set { if !newValue.isEmpty || extras != nil { extra.linkTarget = newValue } }
    }

    var xattrs: [Xattr] {
        get { extras?.xattrs ?? [] }
        set { if !newValue.isEmpty || extras != nil { extra.xattrs = newValue } }
    }

    var devMajor: UInt32 {
        get { extras?.devMajor ?? 0 }
        set { if newValue != 0 || extras != nil { extra.devMajor = newValue } }
    }

    var devMinor: UInt32 {
        get { extras?.devMinor ?? 0 }
        set { if newValue != 0 || extras != nil { extra.devMinor = newValue } }
    }

    /// A new inode with the same metadata and content description, referenced by no node yet.
    func duplicate() -> Inode {
        let copy = Inode(type: type, mode: 0, mtime: mtime, mtimeNsec: mtimeNsec)
        (copy.modeAndType, copy.uid16, copy.gid16, copy.extras) = (modeAndType, uid16, gid16, extras?.copy())
        (copy.size, copy.sha256, copy.implied) = (size, sha256, implied)
        return copy
    }

    init(type: CatalogEntryType, mode: UInt32, uid: UInt32 = 0, gid: UInt32 = 0, mtime: Int64 = 0, mtimeNsec: UInt32 = 0) {
        self.modeAndType = UInt16(type.rawValue) << 12
        self.mtime = mtime
        self.mtimeNsec = mtimeNsec
        self.mode = mode
        self.uid = uid
        self.gid = gid
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
