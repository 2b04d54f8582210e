#if canImport(Glibc)
import Glibc
#endif

extension LayerApplier {
    /// Materialises a tree from a catalog and the object store (mkdirs, links and clones only) and
    /// rebuilds the model from it, so further layers apply on top. The tree must be empty.
    /// `trustHints`: link bodies whose entries say so (`CatalogEntry.canonicalObject`) without
    /// checking their object first; a repair passes false.
    func load(_ entries: [CatalogEntry], trustHints: Bool = true) throws {
        layerIndex += 1
        do {
            try loadEntries(entries, trustHints: trustHints)
            try flushWrites()
        } catch {
            writer.quiesce()
            throw error
        }
    }

    /// `load`'s work: directories, symlinks and empty files here; the links of stored bodies on
    /// the writer's threads (two links at a time: a new tag's tree from its base chain is
    /// thousands of them).
    private func loadEntries(_ entries: [CatalogEntry], trustHints: Bool) throws {
        var groups: [UInt64: TreeNode] = [:]
        // The further names of link groups, linked once the writer has made every first name
        // (one wait for the writer, not one per name).
        var laterNames: [(node: TreeNode, first: TreeNode)] = []
        for var e in entries {
            // A catalog written before times were clamped may hold one the filesystem cannot.
            (e.mtime, e.mtimeNsec) = times.clamp(sec: e.mtime, nsec: e.mtimeNsec)
            if e.path.isEmpty {
                root.inode = model.makeInode(type: .directory, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, mtimeNsec: e.mtimeNsec)
                root.inode.links = 1
                root.inode.implied = e.implied
                root.inode.xattrs = e.xattrs
                continue
            }
            let parts = e.path.split(separator: 0x2F, omittingEmptySubsequences: false).map { Array($0) }
            var parent = root
            for p in parts.dropLast() {
                guard let next = parent.child(p), next.isDirectory else {
                    throw ImgsyncError(.catalog, "catalog lists \(e.path.escapedForDisplay) before its parent directory")
                }
                parent = next
            }
            let name = parts[parts.count - 1]
            guard parent.child(name) == nil else {
                throw ImgsyncError(.catalog, "catalog lists \(e.path.escapedForDisplay) twice")
            }
            if e.linkGroup != 0, let first = groups[e.linkGroup] {
                let node = try makeNode(name, parent: parent, inode: first.inode)
                add(node, to: parent)
                if first.isOnDisk { laterNames.append((node, first)) }
                continue
            }
            let inode = model.makeInode(type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, mtimeNsec: e.mtimeNsec)
            inode.size = e.size
            inode.sha256 = e.sha256
            inode.linkTarget = e.linkTarget
            inode.devMajor = e.devMajor
            inode.devMinor = e.devMinor
            inode.xattrs = e.xattrs
            inode.implied = e.implied
            switch e.type {
            case .directory:
                try Syscall.mkdir(at: try dirFd(parent), name, mode: 0o700)
            case .regular:
                let diskMode = store.fileMode(e.mode)
                if e.size == 0 {
                    let pfd = try dirFd(parent)
                    let fd = name.withCString { openat(pfd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
                    if fd < 0 { throw Syscall.failure("create", e.path.escapedForDisplay) }
                    defer { Syscall.close(fd) }
                    try Syscall.chmod(fd: fd, diskMode)
                    try Syscall.setTimes(fd: fd, sec: e.mtime, nsec: e.mtimeNsec)
                } else {
                    try writer.submit(FileWriter.Job(dirfd: try dirFd(parent), name: name, body: [], inode: inode,
                                                     diskMode: diskMode, entry: e.path, link: true, canonicalHint: trustHints && e.canonicalObject))
                }
            case .symlink:
                try Syscall.symlink(e.linkTarget, at: try dirFd(parent), name)
                try Syscall.setTimes(at: try dirFd(parent), name, sec: e.mtime, nsec: e.mtimeNsec)
            case .charDevice, .blockDevice, .fifo:
                break
            }
            let node = try makeNode(name, parent: parent, inode: inode)
            add(node, to: parent)
            if e.linkGroup != 0 { groups[e.linkGroup] = node }
        }
        guard !laterNames.isEmpty else { return }
        try flushWrites()
        for (node, first) in laterNames {
            let srcFd = try dirFd(first.parent!)
            pinnedDir = first.parent
            defer { pinnedDir = nil }
            try Syscall.link(from: srcFd, first.name, to: try dirFd(node.parent!), node.name)
        }
    }
}
