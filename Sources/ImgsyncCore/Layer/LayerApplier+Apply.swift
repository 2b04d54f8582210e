import CImgsyncSys
#if canImport(Glibc)
import Glibc
#endif

private let whPrefix: PathBytes = Array(".wh.".utf8)
private let opaqueMarker: PathBytes = Array(".wh..wh..opq".utf8)
private let aufsPlnk: PathBytes = Array(".wh..wh.plnk".utf8)
private let aufsMeta: PathBytes = Array(".wh..wh.aufs".utf8)
private let aufsOrph: PathBytes = Array(".wh..wh.orph".utf8)

extension LayerApplier {
    /// Applies one layer read by `reader`. `name` (a digest or file name) is used in errors.
    public func apply(_ reader: TarReader, name: String) throws {
        layerIndex += 1
        layerName = name
        do {
            while let entry = try reader.next() {
                do {
                    try applyEntry(entry, reader)
                } catch var e as ImgsyncError {
                    if e.entry == nil { e.entry = entry.name.escapedForDisplay }
                    throw e
                }
                entriesApplied += 1
            }
            try reader.drain()
            try flushWrites()
        } catch let e as ImgsyncError {
            writer.quiesce()
            throw e.inLayer(name)
        } catch {
            writer.quiesce()
            throw error
        }
        if reader.entryCount == 0 { warn("layer \(name) has no entries") }
    }

    func applyEntry(_ entry: TarEntry, _ reader: TarReader) throws {
        let components: [PathBytes]
        switch PathNormalizer.normalize(entry.name) {
        case .traversal:
            throw ImgsyncError(.traversal, "entry name escapes the root")
        case .root:
            guard entry.kind == .directory else {
                throw ImgsyncError(.rootType, "refusing to change the type of the root directory")
            }
            setAttributes(root.inode, from: entry)
            root.inode.implied = false
            root.stamp = layerIndex
            return
        case .components(let c):
            components = c
        }
        if components.count > limits.maxPathDepth {
            throw ImgsyncError(.limit, "path depth \(components.count) exceeds the limit of \(limits.maxPathDepth)")
        }
        if entry.name.count > limits.maxPathLength {
            throw ImgsyncError(.limit, "path of \(entry.name.count) bytes exceeds the limit of \(limits.maxPathLength)")
        }
        for c in components { try checkComponent(c) }

        // AUFS metadata at the root (D4).
        if components[0] == aufsMeta || components[0] == aufsOrph { return }
        if components[0] == aufsPlnk {
            if components.count > 1 && entry.kind == .regular { try storeAufsLink(components, entry, reader) }
            return
        }
        for c in components.dropLast() where c.starts(with: whPrefix) {
            throw ImgsyncError(.invalidWhiteout, "whiteout prefix in a directory component")
        }
        let last = components[components.count - 1]
        let parentComponents = components[0..<(components.count - 1)]
        if last.starts(with: whPrefix) {
            if last == opaqueMarker {
                if let dir = try resolveDirectory(parentComponents, create: false) { try removeLower(in: dir) }
                return
            }
            let target = Array(last.dropFirst(4))
            if target.isEmpty || target == [0x2E] || target == [0x2E, 0x2E] {
                throw ImgsyncError(.invalidWhiteout, "invalid whiteout name")
            }
            if let dir = try resolveDirectory(parentComponents, create: false), let victim = dir.child(target) {
                if victim.stamp != layerIndex {
                    try remove(victim)
                } else if victim.isDirectory {
                    // Written in this layer: only what lower layers left inside goes (U38).
                    try removeLower(in: victim)
                }
            }
            return
        }

        switch entry.kind {
        case .directory:
            let parent = try resolveDirectory(parentComponents, create: true)!
            if let existing = parent.child(last), existing.isDirectory {
                setAttributes(existing.inode, from: entry)
                existing.inode.implied = false
                existing.stamp = layerIndex
                return
            }
            if let existing = parent.child(last) { try remove(existing) }
            try Syscall.mkdir(at: try dirFd(parent), last, mode: 0o700)
            let inode = model.makeInode(type: .directory, mode: 0)
            setAttributes(inode, from: entry)
            try add(makeNode(last, parent: parent, inode: inode), to: parent)
        case .regular:
            let parent = try resolveDirectory(parentComponents, create: true)!
            try writeRegular(parent, last, entry, reader)
        case .symlink:
            // Linux has no empty symlinks (symlinkat fails with ENOENT) and none longer than PATH_MAX
            // (ENAMETOOLONG): faults of the layer, not I/O errors.
            if entry.linkName.isEmpty { throw ImgsyncError(.tarFormat, "symlink with an empty target") }
            if entry.linkName.count >= Int(PATH_MAX) {
                throw ImgsyncError(.nameTooLong, "symlink target of \(entry.linkName.count) bytes exceeds PATH_MAX (\(PATH_MAX))")
            }
            let parent = try resolveDirectory(parentComponents, create: true)!
            if let existing = parent.child(last) { try remove(existing) }
            try Syscall.symlink(entry.linkName, at: try dirFd(parent), last)
            let inode = model.makeInode(type: .symlink, mode: 0o777)
            setAttributes(inode, from: entry)
            inode.mode = entry.mode
            inode.linkTarget = entry.linkName
            try Syscall.setTimes(at: try dirFd(parent), last, sec: inode.mtime, nsec: inode.mtimeNsec)
            if !inode.xattrs.isEmpty {
                warn("\(entry.name.escapedForDisplay): xattrs on a symlink are recorded, not applied")
            }
            try add(makeNode(last, parent: parent, inode: inode), to: parent)
        case .hardlink:
            try makeHardlink(parentComponents, last, entry)
        case .charDevice, .blockDevice, .fifo:
            let parent = try resolveDirectory(parentComponents, create: true)!
            if let existing = parent.child(last) { try remove(existing) }
            let type: CatalogEntryType = entry.kind == .charDevice ? .charDevice : entry.kind == .blockDevice ? .blockDevice : .fifo
            let inode = model.makeInode(type: type, mode: 0)
            setAttributes(inode, from: entry)
            inode.devMajor = entry.devMajor
            inode.devMinor = entry.devMinor
            try add(makeNode(last, parent: parent, inode: inode), to: parent)
        }
    }

    func add(_ node: TreeNode, to parent: TreeNode) {
        node.stamp = layerIndex
        parent.insert(child: node)
    }

    func setAttributes(_ inode: Inode, from entry: TarEntry) {
        inode.mode = entry.mode & 0o7777
        inode.uid = UInt32(truncatingIfNeeded: entry.uid)
        inode.gid = UInt32(truncatingIfNeeded: entry.gid)
        (inode.mtime, inode.mtimeNsec) = clampedTime(entry)
        inode.xattrs = entry.xattrs.map { Xattr(name: $0.name, value: $0.value) }
    }

    /// The entry's mtime as the filesystem will hold it (docs/on-disk-format.md, "Times"): recorded
    /// in the catalog and applied on disk alike, with a warning when it differs from the layer's.
    func clampedTime(_ entry: TarEntry) -> (Int64, UInt32) {
        let kept = times.clamp(sec: entry.mtime, nsec: entry.mtimeNsec)
        if kept.sec != entry.mtime || kept.nsec != entry.mtimeNsec {
            warn("\(entry.name.escapedForDisplay): mtime \(FileTimeRange.format(entry.mtime, entry.mtimeNsec)) is outside "
                 + "the range the filesystem stores (\(times.min) to \(times.max) s); recorded and applied as "
                 + FileTimeRange.format(kept.sec, kept.nsec))
        }
        return kept
    }

    /// Hardlinks follow stream order; the target must exist now, in this or a lower layer (D6).
    func makeHardlink(_ parentComponents: ArraySlice<PathBytes>, _ last: PathBytes, _ entry: TarEntry) throws {
        let targetNode: TreeNode
        var fromAufs = false
        switch PathNormalizer.normalize(entry.linkName) {
        case .traversal:
            throw ImgsyncError(.traversal, "hardlink target \"\(entry.linkName.escapedForDisplay)\" escapes the root")
        case .root:
            throw ImgsyncError(.hardlinkDir, "hardlink to the root directory")
        case .components(let t):
            if t.count >= 2 && t[0] == aufsPlnk, let n = aufsLinks[Array(t.joined(separator: [0x2F]))] {
                targetNode = n
                fromAufs = true
            } else {
                guard let dir = try resolveDirectory(t[0..<(t.count - 1)], create: false),
                      let n = dir.child(t[t.count - 1]) else {
                    throw ImgsyncError(.hardlinkTarget, "hardlink target \"\(entry.linkName.escapedForDisplay)\" does not exist (yet)")
                }
                targetNode = n
            }
        }
        if targetNode.isDirectory {
            throw ImgsyncError(.hardlinkDir, "hardlink target \"\(entry.linkName.escapedForDisplay)\" is a directory")
        }
        let parent = try resolveDirectory(parentComponents, create: true)!
        if let existing = parent.child(last) {
            if existing == targetNode {
                throw ImgsyncError(.hardlinkTarget, "hardlink \"\(entry.name.escapedForDisplay)\" points to itself")
            }
            if !fromAufs && existing.isDirectory && targetNode.isBelow(existing) {
                // Replacing the directory would remove the target with it.
                throw ImgsyncError(.hardlinkTarget, "hardlink \"\(entry.name.escapedForDisplay)\" would replace the directory that holds its target \"\(entry.linkName.escapedForDisplay)\"")
            }
            try remove(existing)
        }
        if targetNode.isOnDisk {
            try flushWrites()   // the target may still be queued
            // Both fds are fetched right before the call: the directory fd cache is bounded.
            // The source directory is pinned so that opening the destination cannot close its fd.
            let srcDir = fromAufs ? nil : targetNode.parent!
            let srcFd = try srcDir.map { try dirFd($0) } ?? aufsDirFd
            pinnedDir = srcDir
            defer { pinnedDir = nil }
            let dstFd = try dirFd(parent)
            do {
                try store.linkObject(srcFd, targetNode.name, to: dstFd, last)
            } catch let e as ImgsyncError where e.errno == EMLINK {
                // The target's inode reached the filesystem's hard-link limit (ext4: 65,000): this
                // name gets an inode of its own with the same content and metadata (U152). It is no
                // longer one inode with the target, which tar would have refused outright.
                let copy = try separateCopy(of: targetNode.inode, from: srcFd, targetNode.name, into: dstFd, last, entry: entry.name)
                try add(makeNode(last, parent: parent, inode: copy), to: parent)
                return
            }
        }
        try add(makeNode(last, parent: parent, inode: targetNode.inode), to: parent)
    }

    /// A new inode at `dirfd/name` equal to the file or symlink `srcFd/srcName` (the inode `inode`
    /// describes, already on disk), for a hardlink whose target inode is full.
    func separateCopy(of inode: Inode, from srcFd: Int32, _ srcName: PathBytes, into dirfd: Int32, _ name: PathBytes,
                      entry: PathBytes) throws -> Inode {
        let copy = inode.duplicate()
        switch inode.type {
        case .symlink:
            try Syscall.symlink(inode.linkTarget, at: dirfd, name)
            try Syscall.setTimes(at: dirfd, name, sec: inode.mtime, nsec: inode.mtimeNsec)
        case .regular:
            let needsXattrs = store.mode != .hardlink && inode.xattrs.contains { FileOps.isApplicable($0.name) }
            if !needsXattrs, let d = inode.sha256, inode.size > 0,
               try store.placeExisting(d, size: inode.size, mode: inode.mode, sec: inode.mtime, nsec: inode.mtimeNsec, dirfd: dirfd, name: name) != .absent {
                // Same body and metadata as the original: what its flag says of the canonical
                // object holds for the copy too.
                return copy
            }
            // Empty bodies, files with xattrs: copy the bytes of the target itself.
            let src = srcName.withCString { openat(srcFd, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
            if src < 0 { throw Syscall.failure("open", srcName.escapedForDisplay) }
            defer { Syscall.close(src) }
            let fd = try FileOps.create(dirfd, name)
            defer { Syscall.close(fd) }
            if inode.size > 0, imgsync_copy_file(fd, src, inode.size) != 0 {
                throw Syscall.failure("copy", entry.escapedForDisplay)
            }
            try Syscall.chmod(fd: fd, store.fileMode(inode.mode))
            for w in FileOps.applyXattrs(fd: fd, inode, entry: entry, mode: store.mode) { warn(w) }
            try Syscall.setTimes(fd: fd, sec: inode.mtime, nsec: inode.mtimeNsec)
        default:
            throw ImgsyncError(.io, "link \(entry.escapedForDisplay): \(Syscall.errorString(EMLINK))", errno: EMLINK)
        }
        return copy
    }

    /// AUFS hardlink sources live outside the tree, in the auxiliary directory.
    func storeAufsLink(_ components: [PathBytes], _ entry: TarEntry, _ reader: TarReader) throws {
        let key = Array(components.joined(separator: [0x2F]))
        let holder = model.makeNode([], parent: nil, inode: model.makeInode(type: .directory, mode: 0o700))
        let fileName = Array("plnk-\(aufsLinks.count)".utf8)
        try writeRegular(holder, fileName, entry, reader, directoryFd: aufsDirFd)
        guard let node = holder.child(fileName) else { return }
        aufsLinks[key] = node
    }
}
