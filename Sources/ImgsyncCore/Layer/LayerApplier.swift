import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Applies tar layers, in order, to one staging tree with OCI changeset semantics (D1–D12).
///
/// The in-memory model (`TreeNode`) is authoritative: names are resolved in it (symlinks followed
/// inside the root, D2) and every disk operation then uses fd-relative calls on real directories
/// with O_NOFOLLOW, so nothing is ever created, changed or removed outside the tree root.
/// Directories stay u+rwx on disk while building; `finish()` applies their exact modes and mtimes.
public final class LayerApplier {
    let rootFd: Int32
    let store: ObjectStore
    let limits: LayerLimits
    /// The records of every node, inode and name of the tree (`TreeNode.swift`).
    let model = TreeModel()
    let root: TreeNode
    var layerIndex: Int32 = -1
    var layerName = ""
    var openDirs: [TreeNode] = []
    /// The directory whose fd an operation holds while it opens another (the fd cache will not
    /// close it); one at a time. Kept here rather than as a flag in every node.
    var pinnedDir: TreeNode?
    /// Files inside an AUFS `.wh..wh.plnk/` dir, usable only as hardlink sources (D4).
    var aufsLinks: [PathBytes: TreeNode] = [:]
    var aufsDirFd: Int32 = -1
    let hasher = SHA256Hasher()
    /// Hashes and writes small files on its own thread (see `FileWriter` for the ordering rules).
    let writer: FileWriter
    /// Warnings for the operator (xattrs that could not be applied, empty layers, …).
    public private(set) var warnings: [String] = []
    /// Entries applied in all layers so far.
    public internal(set) var entriesApplied = 0
    /// Largest body buffered in memory before hashing; larger bodies stream to disk.
    let smallFileLimit = 1 << 20
    /// Directory fds an applier keeps open. Evicting costs a wait for the writer threads (queued
    /// files may use the fds), so a layer that spreads its files over more directories than this
    /// (500 directories in turn: one eviction every 128 files with 256) ran its threads one after
    /// another. 256 unless the command raised it (`useLargeDirectoryCache`, after raising the
    /// open-file limit); a library user such as the test runner keeps the small cache.
    public static var defaultMaxOpenDirs: Int { largeDirectoryCache.load(ordering: .relaxed) }
    private static let largeDirectoryCache = Atomic<Int>(256)

    /// Lets appliers keep a quarter of the open-file limit left after 256 for everything else
    /// open (between 256 and 4,096 directory fds). For a command's `main`, once it has raised the
    /// soft limit. (Not in the test runner: Foundation's `Process.run` lists /proc/self/fd with a
    /// copy of each entry's whole name buffer, which can read past the listing's end, and the
    /// more descriptors a process holds, the likelier that crash.)
    public static func useLargeDirectoryCache() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let available = Int(min(limit.rlim_cur, 1 << 20))
        largeDirectoryCache.store(min(4096, max(256, (available - 256) / 4)), ordering: .relaxed)
    }
    /// This applier's bound on open directory fds (`defaultMaxOpenDirs`; tests set it small).
    let maxOpenDirs: Int
    /// The mtimes the tree's filesystem stores; every mtime is clamped into it before it is recorded.
    let times: FileTimeRange

    /// `rootFd` is the staging tree's root directory (empty, or materialised from a catalog with
    /// `load(catalog:)`); `auxiliaryFd` is a scratch directory outside the tree on the same filesystem.
    public init(rootFd: Int32, auxiliaryFd: Int32, store: ObjectStore, limits: LayerLimits = LayerLimits(),
                maxOpenDirs: Int = LayerApplier.defaultMaxOpenDirs) {
        precondition(maxOpenDirs >= 4, "the directory fd cache needs room for a directory and its parents being opened")
        self.maxOpenDirs = maxOpenDirs
        self.rootFd = rootFd
        self.store = store
        self.limits = limits
        root = model.makeNode([], parent: nil, inode: model.makeInode(type: .directory, mode: 0o755))
        root.inode.implied = true
        aufsDirFd = auxiliaryFd
        writer = FileWriter(store: store)
        times = FileTimeRange.probe(dirfd: auxiliaryFd)
    }

    deinit {
        writer.stop()
        for n in openDirs where n.fd >= 0 {
            Syscall.close(n.fd)
            n.fd = -1
        }
    }

    /// Records a warning, bounded like an error line (`ImgsyncError.description`).
    func warn(_ s: String) { warnings.append(ImgsyncError.bounded(s)) }

    // MARK: directory fds

    /// The open fd of a directory node. Never hold the result across another call that may open
    /// directories: the cache is bounded and may close it.
    func dirFd(_ node: TreeNode) throws -> Int32 {
        if node.parent == nil { return rootFd }
        if node.fd >= 0 { return node.fd }
        let pfd = try dirFd(node.parent!)
        let fd = try Syscall.openDirectory(at: pfd, node.name)
        node.fd = fd
        openDirs.append(node)
        if openDirs.count > maxOpenDirs {
            // Queued files may still use the fds about to be closed.
            try flushWrites()
            var kept: [TreeNode] = []
            for (i, n) in openDirs.enumerated() {
                if i < maxOpenDirs / 2 && n != node && n != pinnedDir {
                    if n.fd >= 0 { Syscall.close(n.fd); n.fd = -1 }
                } else if n.fd >= 0 {
                    kept.append(n)
                }
            }
            openDirs = kept
        }
        return fd
    }

    /// Waits until every file handed to the writer thread is on disk; its warnings become ours.
    func flushWrites() throws {
        for w in try writer.drain() { warn(w) }
    }

    func closeFd(_ node: TreeNode) {
        if node.fd >= 0 {
            Syscall.close(node.fd)
            node.fd = -1
        }
    }

    // MARK: resolution (D2)

    /// Resolves directory components inside the root, following symlinks (absolute targets restart
    /// at the root; `..` at the root stays there). With `create`, missing components become implied
    /// directories and non-directory ancestors are replaced by directories (D5), and every directory
    /// walked through is marked as written in this layer. Without `create`, returns nil when the
    /// path does not lead to a directory. The depth reached counts against `maxPathDepth` too: symlinks
    /// must not lead an entry with a short name to build a tree deeper than the limit.
    func resolveDirectory(_ components: ArraySlice<PathBytes>, create: Bool) throws -> TreeNode? {
        var cur = root
        var depth = 0
        var pending: [PathBytes] = components.reversed()
        var hops = 0
        if create { root.stamp = layerIndex }
        while let comp = pending.popLast() {
            if comp.isEmpty || comp == [0x2E] { continue }
            if comp == [0x2E, 0x2E] {
                if let parent = cur.parent {
                    cur = parent
                    depth -= 1
                }
                continue
            }
            if let child = cur.child(comp) {
                switch child.inode.type {
                case .directory:
                    cur = child
                case .symlink:
                    hops += 1
                    if hops > limits.maxSymlinkHops {
                        if !create { return nil }
                        throw ImgsyncError(.loop, "too many levels of symbolic links resolving \(child.path.escapedForDisplay)")
                    }
                    let target = child.inode.linkTarget
                    if target.isEmpty {
                        if !create { return nil }
                        throw ImgsyncError(.loop, "cannot resolve through the empty symlink \(child.path.escapedForDisplay)")
                    }
                    if target.first == 0x2F {
                        cur = root
                        depth = 0
                    }
                    for part in target.split(separator: 0x2F, omittingEmptySubsequences: true).reversed() {
                        pending.append(Array(part))
                    }
                    continue
                default:
                    guard create else { return nil }
                    try checkDepth(depth)
                    try remove(child)
                    cur = try makeImpliedDirectory(in: cur, comp)
                }
            } else {
                guard create else { return nil }
                try checkDepth(depth)
                cur = try makeImpliedDirectory(in: cur, comp)
            }
            depth += 1
            if create { cur.stamp = layerIndex }
        }
        return cur
    }

    /// A directory is about to be created below one at `depth`.
    private func checkDepth(_ depth: Int) throws {
        if depth >= limits.maxPathDepth {
            throw ImgsyncError(.limit, "the path leads, through symlinks, deeper than the limit of \(limits.maxPathDepth) directories")
        }
    }

    func makeImpliedDirectory(in parent: TreeNode, _ name: PathBytes) throws -> TreeNode {
        try checkComponent(name)
        try Syscall.mkdir(at: try dirFd(parent), name, mode: 0o700)
        let inode = model.makeInode(type: .directory, mode: 0o755)
        inode.implied = true
        let node = try makeNode(name, parent: parent, inode: inode)
        node.stamp = layerIndex
        parent.insert(child: node)
        return node
    }

    /// A node named `name` (its bytes copied into the arena), not yet in its parent's children.
    func makeNode(_ name: PathBytes, parent: TreeNode?, inode: Inode) throws -> TreeNode {
        try checkComponent(name)
        return model.makeNode(name, parent: parent, inode: inode)
    }

    func checkComponent(_ name: PathBytes) throws {
        if name.count > 255 {
            throw ImgsyncError(.nameTooLong, "path component of \(name.count) bytes exceeds NAME_MAX (255)")
        }
    }

    // MARK: removal

    /// Removes a node and everything below it, from disk and from the model.
    func remove(_ node: TreeNode) throws {
        guard let parent = node.parent else { return }
        try flushWrites()
        if node.isDirectory {
            for child in node.children { try remove(child) }
            closeFd(node)
            try Syscall.unlink(at: try dirFd(parent), node.name, directory: true)
        } else if node.isOnDisk {
            try Syscall.unlink(at: try dirFd(parent), node.name)
        }
        node.inode.links -= 1
        parent.remove(child: node)
        if node.isDirectory, let i = openDirs.firstIndex(of: node) { openDirs.remove(at: i) }
        model.release(node)
    }

    /// Removes only what lower layers left below `dir` (opaque whiteouts, D3): nodes written in this
    /// layer stay, and directories written in this layer are searched for lower leftovers.
    func removeLower(in dir: TreeNode) throws {
        for child in dir.children {
            if child.stamp == layerIndex {
                if child.isDirectory { try removeLower(in: child) }
            } else {
                try remove(child)
            }
        }
    }
}

extension LayerApplier {
    /// The type of the path as it stands in the model (no symlink followed at the last component,
    /// those before it resolved inside the root), or nil when absent. A path ending in `.` or `..`
    /// names the directory it resolves to, as with lstat: `var/.` is `.directory` when `var` is a
    /// directory or a symlink that leads to one inside the root.
    func lookupType(_ path: PathBytes) -> CatalogEntryType? {
        let comps = path.split(separator: 0x2F, omittingEmptySubsequences: true).map { Array($0) }
        guard let last = comps.last else { return .directory }
        if last == [0x2E] || last == [0x2E, 0x2E] {
            return (try? resolveDirectory(comps[...], create: false)) == nil ? nil : .directory
        }
        guard let dir = try? resolveDirectory(comps.dropLast(), create: false) else { return nil }
        return dir.child(last)?.inode.type
    }

    /// The target of the symlink at `path` (earlier components resolved as in `lookupType`), or
    /// nil when there is no symlink there.
    func lookupLinkTarget(_ path: PathBytes) -> PathBytes? {
        let comps = path.split(separator: 0x2F, omittingEmptySubsequences: true).map { Array($0) }
        guard let last = comps.last, let dir = try? resolveDirectory(comps.dropLast(), create: false),
              let node = dir.child(last), node.inode.type == .symlink else { return nil }
        return node.inode.linkTarget
    }
}
