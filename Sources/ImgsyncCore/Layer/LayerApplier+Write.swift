#if canImport(Glibc)
import Glibc
#endif
import CImgsyncSys

extension LayerApplier {
    /// Writes a regular file: never through an existing name (unlink first, never O_TRUNC), body
    /// hashed while it is read, then chmod, then times (D9). A body the store already holds is
    /// linked (or cloned) instead of written when it fits the in-memory window.
    func writeRegular(_ parent: TreeNode, _ name: PathBytes, _ entry: TarEntry, _ reader: TarReader, directoryFd: Int32? = nil) throws {
        if let existing = parent.children[name] { try remove(existing) }
        let inode = Inode(type: .regular, mode: 0)
        setAttributes(inode, from: entry)
        inode.size = entry.size
        let sec = inode.mtime, nsec = inode.mtimeNsec
        let diskMode = store.mode == .hardlink ? ObjectStore.sharedMode(inode.mode) : ObjectStore.ownMode(inode.mode)
        func dfd() throws -> Int32 { try directoryFd ?? dirFd(parent) }

        if entry.size == 0 {
            try reader.readBody { _ in }
            let fd = try create(try dfd(), name)
            defer { Syscall.close(fd) }
            try Syscall.chmod(fd: fd, diskMode)
            try Syscall.setTimes(fd: fd, sec: sec, nsec: nsec)
            try applyXattrs(fd: fd, inode, entry)
            inode.sha256 = Digest.empty
            try store.storeEmpty()
        } else if entry.size <= Int64(smallFileLimit) {
            let size = Int(entry.size)
            if bodyBuffer.count < size { bodyBuffer = [UInt8](repeating: 0, count: max(size, 64 * 1024)) }
            var filled = 0
            try bodyBuffer.withUnsafeMutableBytes { buf in
                try reader.readBody { chunk in
                    guard filled + chunk.count <= size else {
                        throw ImgsyncError(.tarFormat, "body longer than its declared size")
                    }
                    UnsafeMutableRawBufferPointer(rebasing: buf[filled..<(filled + chunk.count)]).copyMemory(from: chunk)
                    filled += chunk.count
                }
            }
            let digest = bodyBuffer.withUnsafeBytes { buf -> Digest in
                hasher.update(UnsafeRawBufferPointer(rebasing: buf[0..<size]))
                return hasher.finalize()
            }
            inode.sha256 = digest
            let needsXattrs = store.mode != .hardlink && inode.xattrs.contains { isApplicable($0.name) }
            if needsXattrs == false,
               try store.placeExisting(digest, size: entry.size, mode: inode.mode, sec: sec, nsec: nsec, dirfd: try dfd(), name: name) {
                // Linked or cloned; nothing written.
            } else {
                let fd = try create(try dfd(), name)
                defer { Syscall.close(fd) }
                try bodyBuffer.withUnsafeBytes { try Syscall.writeAll(fd, UnsafeRawBufferPointer(rebasing: $0[0..<size])) }
                try Syscall.chmod(fd: fd, diskMode)
                try applyXattrs(fd: fd, inode, entry)
                try Syscall.setTimes(fd: fd, sec: sec, nsec: nsec)
                try store.adopt(digest, size: entry.size, mode: inode.mode, sec: sec, nsec: nsec, dirfd: try dfd(), name: name, fd: fd)
            }
        } else {
            let fd = try create(try dfd(), name)
            defer { Syscall.close(fd) }
            var written: Int64 = 0
            try reader.readBody { chunk in
                hasher.update(chunk)
                try Syscall.writeAll(fd, chunk)
                written += Int64(chunk.count)
            }
            let digest = hasher.finalize()
            inode.sha256 = digest
            try Syscall.chmod(fd: fd, diskMode)
            try applyXattrs(fd: fd, inode, entry)
            try Syscall.setTimes(fd: fd, sec: sec, nsec: nsec)
            try store.adopt(digest, size: entry.size, mode: inode.mode, sec: sec, nsec: nsec, dirfd: try dfd(), name: name, fd: fd)
        }
        add(TreeNode(name: name, parent: parent, inode: inode), to: parent)
    }

    private func create(_ dirfd: Int32, _ name: PathBytes) throws -> Int32 {
        let fd = name.withCString { p in Syscall.retrying { openat(dirfd, p, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) } }
        if fd < 0 { throw Syscall.failure("create", name.escapedForDisplay) }
        return fd
    }

    /// Only `user.*` xattrs are ever applied, and never to shared inodes (D8, DESIGN §2).
    func isApplicable(_ name: PathBytes) -> Bool { name.starts(with: Array("user.".utf8)) }

    func applyXattrs(fd: Int32, _ inode: Inode, _ entry: TarEntry) throws {
        guard store.mode != .hardlink else { return }
        for x in inode.xattrs where isApplicable(x.name) {
            let r = x.name.withCString { n in x.value.withUnsafeBytes { fsetxattr(fd, n, $0.baseAddress, $0.count, 0) } }
            if r != 0 {
                warn("\(entry.name.escapedForDisplay): xattr \(x.name.escapedForDisplay) not applied: \(Syscall.errorString(errno))")
            }
        }
    }
}
