#if canImport(Glibc)
import Glibc
#endif
import CImgsyncSys

extension LayerApplier {
    /// Applies every directory's exact mode, xattrs and mtime, children before parents (D9), and
    /// closes cached fds. Call once, after the last layer and any extra files.
    public func finish() throws {
        try flushWrites()
        try finishDirectory(root)
        for n in openDirs where n.fd >= 0 { closeFd(n) }
        openDirs.removeAll()
    }

    private func finishDirectory(_ dir: TreeNode) throws {
        for child in dir.children where child.isDirectory { try finishDirectory(child) }
        let fd = try dirFd(dir)
        let inode = dir.inode
        for w in FileOps.setXattrs(fd: fd, inode.xattrs, label: "\(dir.path.escapedForDisplay)/") { warn(w) }
        try Syscall.chmod(fd: fd, ObjectStore.directoryMode(inode.mode, worldReadable: store.worldReadable))
        try Syscall.setTimes(fd: fd, sec: inode.mtime, nsec: inode.mtimeNsec)
        if dir.parent != nil { closeFd(dir) }
    }

    /// The catalog of the tree as it stands: depth first, children in byte order, link groups numbered
    /// in order of first appearance.
    public func snapshot() -> [CatalogEntry] {
        var out: [CatalogEntry] = []
        // Sized exactly: growing by doubling would hold up to twice the catalog at the peak.
        var count = 0
        var stack = [root]
        while let node = stack.popLast() {
            count += 1
            if node.isDirectory { stack.append(contentsOf: node.children) }
        }
        out.reserveCapacity(count)
        forEachCatalogEntry { out.append($0) }
        return out
    }

    /// Calls `body` with each entry of the catalog in `snapshot()`'s order, one at a time, so a
    /// catalog can be written or summed without holding every entry at once.
    public func forEachCatalogEntry(_ body: (CatalogEntry) throws -> Void) rethrows {
        // Link group numbers of the inodes with several names (few: a table, not a field of every inode).
        var groups: [UInt32: UInt64] = [:]
        func visit(_ node: TreeNode, _ path: PathBytes) throws {
            let i = node.inode
            var group: UInt64 = 0
            if i.links > 1 && i.type != .directory {
                let next = UInt64(groups.count + 1)
                group = groups[i.index, default: next]
                if group == next { groups[i.index] = next }
            }
            var entry = CatalogEntry(path: path, type: i.type, mode: i.mode, uid: i.uid, gid: i.gid, mtime: i.mtime,
                                     mtimeNsec: i.mtimeNsec, size: i.type == .regular ? i.size : 0, sha256: i.sha256,
                                     linkTarget: i.linkTarget, linkGroup: group, devMajor: i.devMajor, devMinor: i.devMinor,
                                     xattrs: i.xattrs, implied: i.implied)
            entry.canonicalObject = i.canonicalObject
            try body(entry)
            guard node.isDirectory else { return }
            for child in node.sortedChildren {
                var childPath = path
                if !childPath.isEmpty { childPath.append(0x2F) }
                childPath.append(contentsOf: child.nameBytes)
                try visit(child, childPath)
            }
        }
        try visit(root, [])
    }
}
