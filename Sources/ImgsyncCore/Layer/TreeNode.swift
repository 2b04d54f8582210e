#if canImport(Glibc)
import Glibc
#endif

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
///
/// 40 bytes of fields (56 with the object header, a 64-byte heap block): one node per path. The
/// name is not an array of its own (a 48- to 64-byte block each) but bytes in the applier's
/// `NameArena`, and a directory's children are one open-addressing table of node references
/// (`ChildTable`, 8 bytes a slot) instead of a dictionary keyed by name arrays.
final class TreeNode {
    /// The name's bytes in the applier's arena (nil for the root and after `NameArena.release`).
    private(set) var nameStart: UnsafePointer<UInt8>?
    /// The containing directory; nil only for the root. Nodes are owned by their parent's table.
    unowned(unsafe) var parent: TreeNode?
    var inode: Inode
    /// Children and the cached fd of a directory; nil until the first child or fd.
    private var table: ChildTable?
    /// Index of the layer that last wrote this path or a path below it (the "upper" set, D3).
    var stamp: Int32 = -1
    /// The name's length: a component is at most NAME_MAX (255) bytes (`LayerApplier.checkComponent`).
    private(set) var nameCount: UInt8

    /// Made by `LayerApplier.makeNode`, which stores the name in its arena.
    init(nameStart: UnsafePointer<UInt8>?, nameCount: UInt8, parent: TreeNode?, inode: Inode) {
        self.nameStart = nameStart
        self.nameCount = nameCount
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

    /// The name's bytes, valid while the node is in the tree.
    var nameBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nameStart, count: Int(nameCount)) }

    /// The name as an array (for system calls and messages).
    var name: PathBytes { Array(nameBytes) }

    /// The name has been given back to the arena: the node reads as nameless from now on, never
    /// as the bytes of the node that takes the space next.
    func forgetName() {
        nameStart = nil
        nameCount = 0
    }

    /// Cached open directory fd (directories only), or -1.
    var fd: Int32 {
        get { table?.fd ?? -1 }
        set {
            if let table {
                table.fd = newValue
            } else if newValue >= 0 {
                let t = ChildTable()
                t.fd = newValue
                table = t
            }
        }
    }

    /// The child called `name`, or nil.
    func child(_ name: PathBytes) -> TreeNode? {
        guard let table else { return nil }
        return name.withUnsafeBytes { table.find($0) }
    }

    /// Adds `node` as a child, replacing one of the same name.
    func insert(child node: TreeNode) {
        if table == nil { table = ChildTable() }
        table!.insert(node)
    }

    /// Removes `node` from the children (nothing when it is not one).
    func remove(child node: TreeNode) {
        table?.remove(node)
    }

    /// The children, in no particular order.
    var children: [TreeNode] { table?.nodes ?? [] }

    /// Byte order of the names (`lexicographicallyPrecedes` of the arrays, without making them).
    func namePrecedes(_ other: TreeNode) -> Bool {
        let a = nameBytes, b = other.nameBytes
        let n = min(a.count, b.count)
        if n > 0, let pa = a.baseAddress, let pb = b.baseAddress {
            let c = memcmp(pa, pb, n)
            if c != 0 { return c < 0 }
        }
        return a.count < b.count
    }

    /// The path from the root, for messages.
    var path: PathBytes {
        var parts: [TreeNode] = []
        var n: TreeNode? = self
        while let cur = n, cur.parent != nil {
            parts.append(cur)
            n = cur.parent
        }
        var out: PathBytes = []
        for p in parts.reversed() {
            if !out.isEmpty { out.append(0x2F) }
            out.append(contentsOf: p.nameBytes)
        }
        return out
    }
}

/// A directory's children: an open-addressing table (linear probing, at most three quarters full,
/// backward-shift deletion) of node references, found by the bytes of their names. The hash is the
/// standard library's `Hasher`, seeded per process, so a layer cannot choose names that collide.
final class ChildTable {
    private var slots = ContiguousArray<TreeNode?>(repeating: nil, count: 2)
    private var count = 0
    var fd: Int32 = -1

    private static func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
        var h = Hasher()
        h.combine(bytes: bytes)
        return h.finalize()
    }

    private static func equal(_ node: TreeNode, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let mine = node.nameBytes
        guard mine.count == bytes.count else { return false }
        guard let a = mine.baseAddress, let b = bytes.baseAddress else { return mine.count == 0 }
        return memcmp(a, b, mine.count) == 0
    }

    /// The slot holding the name, or the empty slot where it would go.
    private func slot(of bytes: UnsafeRawBufferPointer) -> (index: Int, found: Bool) {
        let mask = slots.count - 1
        var i = Self.hash(bytes) & mask
        while let n = slots[i] {
            if Self.equal(n, bytes) { return (i, true) }
            i = (i + 1) & mask
        }
        return (i, false)
    }

    func find(_ bytes: UnsafeRawBufferPointer) -> TreeNode? {
        let (i, found) = slot(of: bytes)
        return found ? slots[i] : nil
    }

    func insert(_ node: TreeNode) {
        let (i, found) = slot(of: node.nameBytes)
        if found {
            slots[i] = node
            return
        }
        if (count + 1) * 4 > slots.count * 3 {
            grow()
            insert(node)
            return
        }
        slots[i] = node
        count += 1
    }

    private func grow() {
        let old = slots
        slots = ContiguousArray(repeating: nil, count: old.count * 2)
        let mask = slots.count - 1
        for case let n? in old {
            var i = Self.hash(n.nameBytes) & mask
            while slots[i] != nil { i = (i + 1) & mask }
            slots[i] = n
        }
    }

    func remove(_ node: TreeNode) {
        let (found, present) = slot(of: node.nameBytes)
        guard present, slots[found] === node else { return }
        let mask = slots.count - 1
        var hole = found
        slots[hole] = nil
        count -= 1
        // Backward shift: a later entry of the probe run moves into the hole unless its home slot
        // lies (cyclically) after the hole and at or before the entry.
        var j = (hole + 1) & mask
        while let n = slots[j] {
            let home = Self.hash(n.nameBytes) & mask
            let stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j)
            if !stays {
                slots[hole] = n
                slots[j] = nil
                hole = j
            }
            j = (j + 1) & mask
        }
    }

    var nodes: [TreeNode] {
        var out: [TreeNode] = []
        out.reserveCapacity(count)
        for case let n? in slots { out.append(n) }
        return out
    }
}

/// The bytes of the tree's names, in chunks that never move (nodes point into them). A removed
/// node's name goes to a free list of its length, so a layer that replaces one path over and over
/// reuses the same bytes instead of growing the arena.
final class NameArena {
    private static let chunkSize = 64 << 10
    private var chunks: [UnsafeMutablePointer<UInt8>] = []
    private var next: UnsafeMutablePointer<UInt8>?
    private var left = 0
    /// Freed names by length (index 0 unused).
    private var free = [[UnsafeMutablePointer<UInt8>]](repeating: [], count: 256)

    deinit {
        for c in chunks { c.deallocate() }
    }

    /// A copy of `name` (at most 255 bytes; nil when empty).
    func store(_ name: PathBytes) -> UnsafePointer<UInt8>? {
        let n = name.count
        guard n > 0 else { return nil }
        precondition(n < free.count, "a name longer than NAME_MAX reached the arena")
        let p: UnsafeMutablePointer<UInt8>
        if let reused = free[n].popLast() {
            p = reused
        } else {
            if left < n || next == nil {
                let c = UnsafeMutablePointer<UInt8>.allocate(capacity: Self.chunkSize)
                chunks.append(c)
                next = c
                left = Self.chunkSize
            }
            p = next!
            next = p + n
            left -= n
        }
        name.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: n) }
        return UnsafePointer(p)
    }

    /// Takes back the name of a node that has left the tree.
    func release(_ node: TreeNode) {
        if let p = node.nameStart, node.nameCount > 0 {
            free[Int(node.nameCount)].append(UnsafeMutablePointer(mutating: p))
        }
        node.forgetName()
    }
}
