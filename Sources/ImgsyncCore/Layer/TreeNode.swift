#if canImport(Glibc)
import Glibc
#endif

// The in-memory model of the tree being built, in fixed-size records (docs/architecture.md,
// "Memory per entry"): a node record (24 bytes) per path, an inode record (64 bytes) per inode,
// names in a byte arena, a directory's children in a table of 32-bit node numbers. `TreeNode` and
// `Inode` are handles (a record number and the model) with the accessors the applier uses.

/// Storage of one record type in chunks that never move, so a record's address stays valid while
/// the model grows: the file writer's threads fill in an inode's digest through it while the applier
/// adds records. Records that leave the model go to a free list and are reused.
final class RecordStore<Record> {
    private static var chunkShift: Int { 14 }
    private static var chunkSize: Int { 1 << chunkShift }
    /// Room for 2^28 records; the directory of chunk pointers is made once and never grows, so a
    /// writer thread may read it while the applier adds a chunk.
    private static var maxChunks: Int { 1 << 14 }
    private let chunks: UnsafeMutablePointer<UnsafeMutablePointer<Record>?>
    private(set) var count: UInt32 = 0
    private var free: [UInt32] = []

    init() {
        chunks = .allocate(capacity: Self.maxChunks)
        chunks.initialize(repeating: nil, count: Self.maxChunks)
    }

    deinit {
        var left = Int(count)
        var i = 0
        while left > 0, let c = chunks[i] {
            let n = min(left, Self.chunkSize)
            c.deinitialize(count: n)
            c.deallocate()
            left -= n
            i += 1
        }
        chunks.deallocate()
    }

    @inline(__always)
    subscript(_ index: UInt32) -> UnsafeMutablePointer<Record> {
        chunks[Int(index) >> Self.chunkShift].unsafelyUnwrapped + (Int(index) & (Self.chunkSize - 1))
    }

    /// A record holding `value`: a freed one, or a new one at the end.
    func add(_ value: Record) -> UInt32 {
        if let i = free.popLast() {
            self[i].pointee = value
            return i
        }
        let i = count
        let chunk = Int(i) >> Self.chunkShift
        precondition(chunk < Self.maxChunks, "the tree model is full (2^28 records)")
        if Int(i) & (Self.chunkSize - 1) == 0 {
            chunks[chunk] = .allocate(capacity: Self.chunkSize)
        }
        (chunks[chunk].unsafelyUnwrapped + (Int(i) & (Self.chunkSize - 1))).initialize(to: value)
        count += 1
        return i
    }

    /// Gives a record back (its value is overwritten when it is reused).
    func release(_ index: UInt32) { free.append(index) }
}

/// The model's storage: every node, inode, name and children table of one tree.
final class TreeModel {
    struct NodeRecord {
        var parent: UInt32
        var inode: UInt32
        /// Position of the name in `names`.
        var name: UInt32
        /// 1 + the index of the directory's `ChildTable` in `tables`, or 0.
        var table: UInt32
        var stamp: Int32
        var nameCount: UInt8
    }

    /// 64 bytes. The writer threads write only `digest` and `digestFlags` (bytes of their own).
    struct InodeRecord {
        var mtime: Int64
        var digest = Digest.zero
        /// The size's low 32 bits (the next 8 in `sizeHigh`; larger sizes in the extras).
        var sizeLow: UInt32 = 0
        /// 1 + the index of the inode's `Inode.Extras` in `TreeModel.extras`, or 0.
        var extras: UInt32 = 0
        /// The nanoseconds (low 30 bits) and `implied` (bit 31).
        var nsecAndImplied: UInt32
        /// How many tree nodes reference this inode.
        var links: Int32 = 0
        /// The permission bits (low 12) and the type's raw value (high 4).
        var modeAndType: UInt16
        var uid16: UInt16 = 0
        var gid16: UInt16 = 0
        var sizeHigh: UInt8 = 0
        /// Bit 0: `digest` is set. Bit 1: the body's canonical object has this inode's stored
        /// metadata (`Inode.canonicalObject`).
        var digestFlags: UInt8 = 0
    }

    static let noParent = UInt32.max
    let nodes = RecordStore<NodeRecord>()
    let inodes = RecordStore<InodeRecord>()
    /// The extras of the inodes that have them (`InodeRecord.extras`); stable, as the writer
    /// threads read xattrs through them.
    let extras = RecordStore<Inode.Extras?>()
    let names = NameArena()
    private var tables: [ChildTable?] = []
    private var freeTables: [UInt32] = []

    func makeInode(type: CatalogEntryType, mode: UInt32, uid: UInt32 = 0, gid: UInt32 = 0, mtime: Int64 = 0, mtimeNsec: UInt32 = 0) -> Inode {
        let i = inodes.add(InodeRecord(mtime: mtime, nsecAndImplied: 0, modeAndType: UInt16(type.rawValue) << 12))
        let inode = Inode(index: i, model: self)
        inode.mtimeNsec = mtimeNsec
        inode.mode = mode
        inode.uid = uid
        inode.gid = gid
        return inode
    }

    /// A node named `name` (at most 255 bytes), not yet among its parent's children.
    func makeNode(_ name: PathBytes, parent: TreeNode?, inode: Inode) -> TreeNode {
        let (position, count) = names.store(name)
        let i = nodes.add(NodeRecord(parent: parent?.index ?? Self.noParent, inode: inode.index, name: position, table: 0,
                                     stamp: -1, nameCount: count))
        inode.links += 1
        return TreeNode(index: i, model: self)
    }

    /// Gives back what a node that left the tree holds: its record, name and children table, and
    /// its inode's record when no node references that inode any more.
    func release(_ node: TreeNode) {
        let r = nodes[node.index]
        names.release(r.pointee.name, count: r.pointee.nameCount)
        r.pointee.nameCount = 0
        if r.pointee.table != 0 {
            let t = r.pointee.table - 1
            tables[Int(t)] = nil
            freeTables.append(t)
            r.pointee.table = 0
        }
        let inode = node.inode
        if inode.links <= 0 {
            releaseExtras(of: inode.index)
            inodes.release(inode.index)
        }
        nodes.release(node.index)
    }

    /// The extras of inode `i`, made when `create`.
    func extras(of i: UInt32, create: Bool) -> Inode.Extras? {
        let x = inodes[i].pointee.extras
        if x != 0 { return extras[x - 1].pointee }
        guard create else { return nil }
        let e = Inode.Extras()
        inodes[i].pointee.extras = extras.add(e) + 1
        return e
    }

    private func releaseExtras(of i: UInt32) {
        let x = inodes[i].pointee.extras
        guard x != 0 else { return }
        extras[x - 1].pointee = nil
        extras.release(x - 1)
        inodes[i].pointee.extras = 0
    }

    /// A new inode record with the same fields as `i` and a copy of its extras.
    func duplicate(_ i: UInt32) -> UInt32 {
        var copy = inodes[i].pointee
        copy.links = 0
        copy.extras = 0
        let d = inodes.add(copy)
        if let e = extras(of: i, create: false) {
            inodes[d].pointee.extras = extras.add(e.copy()) + 1
        }
        return d
    }

    func table(_ node: TreeNode) -> ChildTable? {
        let t = nodes[node.index].pointee.table
        return t == 0 ? nil : tables[Int(t - 1)]
    }

    func makeTable(_ node: TreeNode) -> ChildTable {
        if let t = table(node) { return t }
        let t = ChildTable()
        let slot: UInt32
        if let reused = freeTables.popLast() {
            slot = reused
            tables[Int(slot)] = t
        } else {
            slot = UInt32(tables.count)
            tables.append(t)
        }
        nodes[node.index].pointee.table = slot + 1
        return t
    }

    /// The first eight bytes of a node's name as a big-endian number, zeros after a shorter name:
    /// when two prefixes differ they order the names as their bytes do.
    func namePrefix(_ index: UInt32) -> UInt64 {
        let b = nameBytes(index)
        var key: UInt64 = 0
        for j in 0..<8 { key = key << 8 | UInt64(j < b.count ? b[j] : 0) }
        return key
    }

    func nameBytes(_ index: UInt32) -> UnsafeRawBufferPointer {
        let r = nodes[index]
        return names.bytes(r.pointee.name, count: r.pointee.nameCount)
    }
}

/// Metadata of one inode in the tree being built. Several `TreeNode`s share an `Inode` when the
/// layers hard-link them; the header metadata of a hardlink entry is ignored (D6).
///
/// A handle on a 64-byte record. What most inodes do not need (a symlink's target, device
/// numbers, xattrs, ids above 65,535, mode bits above 0o7777) lives in `Extras`, made when first
/// set. Fields the file writer's threads write (`sha256` and `canonicalObject`, through the digest
/// and `digestFlags`) have
/// bytes of their own, so they never share a word the applier writes while a job owns the inode.
struct Inode: Equatable {
    let index: UInt32
    unowned(unsafe) let model: TreeModel

    static func == (a: Inode, b: Inode) -> Bool { a.index == b.index && a.model === b.model }

    /// What few inodes have.
    final class Extras {
        var linkTarget: PathBytes = []
        var xattrs: [Xattr] = []
        var devMajor: UInt32 = 0
        var devMinor: UInt32 = 0
        var uid: UInt32?
        var gid: UInt32?
        var mode: UInt32?
        /// A size of 2^40 bytes or more (a sparse file's).
        var size: Int64?

        func copy() -> Extras {
            let c = Extras()
            (c.linkTarget, c.xattrs, c.devMajor, c.devMinor) = (linkTarget, xattrs, devMajor, devMinor)
            (c.uid, c.gid, c.mode, c.size) = (uid, gid, mode, size)
            return c
        }
    }

    @inline(__always) private var r: UnsafeMutablePointer<TreeModel.InodeRecord> { model.inodes[index] }

    private var extras: Extras? { model.extras(of: index, create: false) }

    private var extra: Extras { model.extras(of: index, create: true)! }

    var mtime: Int64 {
        get { r.pointee.mtime }
        nonmutating set { r.pointee.mtime = newValue }
    }

    var mtimeNsec: UInt32 {
        get { r.pointee.nsecAndImplied & 0x3FFF_FFFF }
        nonmutating set {
            // Tar times and catalogs give less than 10^9 (both are checked where they are read).
            r.pointee.nsecAndImplied = r.pointee.nsecAndImplied & 0x8000_0000 | min(newValue, 999_999_999)
        }
    }

    var size: Int64 {
        get { extras?.size ?? (Int64(r.pointee.sizeHigh) << 32 | Int64(r.pointee.sizeLow)) }
        nonmutating set {
            if newValue >= 0 && newValue < 1 << 40 {
                r.pointee.sizeLow = UInt32(truncatingIfNeeded: newValue)
                r.pointee.sizeHigh = UInt8(truncatingIfNeeded: newValue >> 32)
                if let extras, extras.size != nil { extras.size = nil }
            } else {
                extra.size = newValue
            }
        }
    }

    var links: Int32 {
        get { r.pointee.links }
        nonmutating set { r.pointee.links = newValue }
    }

    var implied: Bool {
        get { r.pointee.nsecAndImplied & 0x8000_0000 != 0 }
        nonmutating set { r.pointee.nsecAndImplied = r.pointee.nsecAndImplied & 0x3FFF_FFFF | (newValue ? 0x8000_0000 : 0) }
    }

    var sha256: Digest? {
        get { r.pointee.digestFlags & 1 != 0 ? r.pointee.digest : nil }
        nonmutating set {
            r.pointee.digest = newValue ?? .zero
            r.pointee.digestFlags = newValue != nil ? 1 : 0
        }
    }

    /// Whether the canonical object of the body (`sha256`) has the metadata this inode's files
    /// have in a hardlink-mode store (shared mode, mtime): set by the object store's answer when the
    /// body was linked or stored, recorded in catalogs, so a tree loaded from one links the object
    /// without looking at it first (docs/catalog-format.md). Cleared when `sha256` is set.
    var canonicalObject: Bool {
        get { r.pointee.digestFlags & 2 != 0 }
        nonmutating set { r.pointee.digestFlags = newValue ? r.pointee.digestFlags | 2 : r.pointee.digestFlags & ~2 }
    }

    var type: CatalogEntryType {
        get { CatalogEntryType(rawValue: UInt8(r.pointee.modeAndType >> 12))! }
        nonmutating set { r.pointee.modeAndType = r.pointee.modeAndType & 0x0FFF | UInt16(newValue.rawValue) << 12 }
    }

    var mode: UInt32 {
        get { extras?.mode ?? UInt32(r.pointee.modeAndType & 0x0FFF) }
        nonmutating set {
            if newValue <= 0o7777 {
                r.pointee.modeAndType = r.pointee.modeAndType & 0xF000 | UInt16(newValue)
                if let extras, extras.mode != nil { extras.mode = nil }
            } else {
                extra.mode = newValue
            }
        }
    }

    var uid: UInt32 {
        get { extras?.uid ?? UInt32(r.pointee.uid16) }
        nonmutating set { setID(newValue, inline: \.uid16, wide: \.uid) }
    }

    var gid: UInt32 {
        get { extras?.gid ?? UInt32(r.pointee.gid16) }
        nonmutating set { setID(newValue, inline: \.gid16, wide: \.gid) }
    }

    /// An id in its 16 inline bits, or in the extras when it is wider.
    private func setID(_ value: UInt32, inline: WritableKeyPath<TreeModel.InodeRecord, UInt16>,
                       wide: ReferenceWritableKeyPath<Extras, UInt32?>) {
        if let small = UInt16(exactly: value) {
            r.pointee[keyPath: inline] = small
            if let extras, extras[keyPath: wide] != nil { extras[keyPath: wide] = nil }
        } else {
            extra[keyPath: wide] = value
        }
    }

    var linkTarget: PathBytes {
        get { extras?.linkTarget ?? [] }
        nonmutating set { if !newValue.isEmpty || extras != nil { extra.linkTarget = newValue } }
    }

    var xattrs: [Xattr] {
        get { extras?.xattrs ?? [] }
        nonmutating set { if !newValue.isEmpty || extras != nil { extra.xattrs = newValue } }
    }

    var devMajor: UInt32 {
        get { extras?.devMajor ?? 0 }
        nonmutating set { if newValue != 0 || extras != nil { extra.devMajor = newValue } }
    }

    var devMinor: UInt32 {
        get { extras?.devMinor ?? 0 }
        nonmutating set { if newValue != 0 || extras != nil { extra.devMinor = newValue } }
    }

    /// A new inode with the same metadata and content description, referenced by no node yet.
    func duplicate() -> Inode {
        Inode(index: model.duplicate(index), model: model)
    }
}

/// One path in the in-memory model of the tree (a handle on a 24-byte node record). The model
/// mirrors the staging tree on disk exactly (plus devices and FIFOs, which exist only here), so
/// symlinks are resolved in the model and every disk operation then walks real directories with
/// O_NOFOLLOW.
struct TreeNode: Equatable {
    let index: UInt32
    unowned(unsafe) let model: TreeModel

    static func == (a: TreeNode, b: TreeNode) -> Bool { a.index == b.index && a.model === b.model }

    @inline(__always) private var r: UnsafeMutablePointer<TreeModel.NodeRecord> { model.nodes[index] }

    /// The containing directory; nil only for the root (and the AUFS holder, outside the tree).
    var parent: TreeNode? {
        let p = r.pointee.parent
        return p == TreeModel.noParent ? nil : TreeNode(index: p, model: model)
    }

    var inode: Inode {
        get { Inode(index: r.pointee.inode, model: model) }
        nonmutating set { r.pointee.inode = newValue.index }
    }

    /// Index of the layer that last wrote this path or a path below it (the "upper" set, D3).
    var stamp: Int32 {
        get { r.pointee.stamp }
        nonmutating set { r.pointee.stamp = newValue }
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
    var nameBytes: UnsafeRawBufferPointer { model.nameBytes(index) }

    /// The name as an array (for system calls and messages).
    var name: PathBytes { Array(nameBytes) }

    /// Cached open directory fd (directories only), or -1.
    var fd: Int32 {
        get { model.table(self)?.fd ?? -1 }
        nonmutating set {
            if let t = model.table(self) {
                t.fd = newValue
            } else if newValue >= 0 {
                model.makeTable(self).fd = newValue
            }
        }
    }

    /// The child called `name`, or nil.
    func child(_ name: PathBytes) -> TreeNode? {
        guard let t = model.table(self) else { return nil }
        return name.withUnsafeBytes { t.find($0, model) }.map { TreeNode(index: $0, model: model) }
    }

    /// Adds `node` as a child, replacing one of the same name.
    func insert(child node: TreeNode) {
        model.makeTable(self).insert(node.index, model)
    }

    /// Removes `node` from the children (nothing when it is not one).
    func remove(child node: TreeNode) {
        model.table(self)?.remove(node.index, model)
    }

    /// The children, in no particular order.
    var children: [TreeNode] {
        (model.table(self)?.nodes ?? []).map { TreeNode(index: $0, model: model) }
    }

    /// The children in byte order of their names (the catalog's order). Sorted on the first eight
    /// bytes of each name as one number, the names compared in full only where those are equal:
    /// sorting was half the cost of writing a catalog when every comparison read both names.
    var sortedChildren: [TreeNode] {
        guard let t = model.table(self) else { return [] }
        var keyed = t.nodes.map { (key: model.namePrefix($0), index: $0) }
        keyed.sort { a, b in
            a.key != b.key ? a.key < b.key
                : TreeNode(index: a.index, model: model).namePrecedes(TreeNode(index: b.index, model: model))
        }
        return keyed.map { TreeNode(index: $0.index, model: model) }
    }

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

    /// Whether `ancestor` is this node's parent, or its parent's, and so on.
    func isBelow(_ ancestor: TreeNode) -> Bool {
        var n = parent
        while let cur = n {
            if cur == ancestor { return true }
            n = cur.parent
        }
        return false
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
/// backward-shift deletion) of node numbers (0, the root's, marks an empty slot: the root is no
/// one's child), found by the bytes of their names. The hash is the standard library's `Hasher`,
/// seeded per process, so a layer cannot choose names that collide.
final class ChildTable {
    private var slots = ContiguousArray<UInt32>(repeating: 0, count: 2)
    private var count = 0
    var fd: Int32 = -1

    private static func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
        var h = Hasher()
        h.combine(bytes: bytes)
        return h.finalize()
    }

    private static func equal(_ mine: UnsafeRawBufferPointer, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard mine.count == bytes.count else { return false }
        guard let a = mine.baseAddress, let b = bytes.baseAddress else { return mine.count == 0 }
        return memcmp(a, b, mine.count) == 0
    }

    /// The slot holding the name, or the empty slot where it would go.
    private func slot(of bytes: UnsafeRawBufferPointer, _ model: TreeModel) -> (index: Int, found: Bool) {
        let mask = slots.count - 1
        var i = Self.hash(bytes) & mask
        while slots[i] != 0 {
            if Self.equal(model.nameBytes(slots[i]), bytes) { return (i, true) }
            i = (i + 1) & mask
        }
        return (i, false)
    }

    func find(_ bytes: UnsafeRawBufferPointer, _ model: TreeModel) -> UInt32? {
        let (i, found) = slot(of: bytes, model)
        return found ? slots[i] : nil
    }

    func insert(_ node: UInt32, _ model: TreeModel) {
        let (i, found) = slot(of: model.nameBytes(node), model)
        if found {
            slots[i] = node
            return
        }
        if (count + 1) * 4 > slots.count * 3 {
            grow(model)
            insert(node, model)
            return
        }
        slots[i] = node
        count += 1
    }

    private func grow(_ model: TreeModel) {
        let old = slots
        slots = ContiguousArray(repeating: 0, count: old.count * 2)
        let mask = slots.count - 1
        for n in old where n != 0 {
            var i = Self.hash(model.nameBytes(n)) & mask
            while slots[i] != 0 { i = (i + 1) & mask }
            slots[i] = n
        }
    }

    func remove(_ node: UInt32, _ model: TreeModel) {
        let (found, present) = slot(of: model.nameBytes(node), model)
        guard present, slots[found] == node else { return }
        let mask = slots.count - 1
        var hole = found
        slots[hole] = 0
        count -= 1
        // Backward shift: a later entry of the probe run moves into the hole unless its home slot
        // lies (cyclically) after the hole and at or before the entry.
        var j = (hole + 1) & mask
        while slots[j] != 0 {
            let n = slots[j]
            let home = Self.hash(model.nameBytes(n)) & mask
            let stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j)
            if !stays {
                slots[hole] = n
                slots[j] = 0
                hole = j
            }
            j = (j + 1) & mask
        }
    }

    var nodes: [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(count)
        for n in slots where n != 0 { out.append(n) }
        return out
    }
}

/// The bytes of the tree's names, in 64 KiB chunks that never move; a name is a 32-bit position
/// (chunk number, offset) and a one-byte length (NAME_MAX is 255). A removed node's name goes to
/// a free list of its length, so a layer that replaces one path over and over reuses the same
/// bytes instead of growing the arena.
final class NameArena {
    private static var chunkShift: Int { 16 }
    private static var chunkSize: Int { 1 << chunkShift }
    private var chunks: [UnsafeMutablePointer<UInt8>] = []
    /// Bytes used in the last chunk.
    private var used = chunkSize
    /// Freed names by length (index 0 unused).
    private var free = [[UInt32]](repeating: [], count: 256)

    deinit {
        for c in chunks { c.deallocate() }
    }

    /// A copy of `name` (at most 255 bytes): its position and length.
    func store(_ name: PathBytes) -> (position: UInt32, count: UInt8) {
        let n = name.count
        guard n > 0 else { return (0, 0) }
        precondition(n < free.count, "a name longer than NAME_MAX reached the arena")
        let position: UInt32
        if let reused = free[n].popLast() {
            position = reused
        } else {
            if used + n > Self.chunkSize {
                precondition(chunks.count < 1 << 16, "the name arena is full (4 GiB)")
                chunks.append(.allocate(capacity: Self.chunkSize))
                used = 0
            }
            position = UInt32(chunks.count - 1) << UInt32(Self.chunkShift) | UInt32(used)
            used += n
        }
        let p = address(position)
        name.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: n) }
        return (position, UInt8(n))
    }

    @inline(__always)
    private func address(_ position: UInt32) -> UnsafeMutablePointer<UInt8> {
        chunks[Int(position >> UInt32(Self.chunkShift))] + Int(position & UInt32(Self.chunkSize - 1))
    }

    func bytes(_ position: UInt32, count: UInt8) -> UnsafeRawBufferPointer {
        count == 0 ? UnsafeRawBufferPointer(start: nil, count: 0) : UnsafeRawBufferPointer(start: address(position), count: Int(count))
    }

    /// Takes back a name that has left the tree.
    func release(_ position: UInt32, count: UInt8) {
        if count > 0 { free[Int(count)].append(position) }
    }
}
