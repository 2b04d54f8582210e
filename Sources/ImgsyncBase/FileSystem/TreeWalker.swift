#if canImport(Glibc)
import Glibc
#endif

/// One name met by `TreeWalker`.
package struct TreeEntry {
    /// The open directory the entry is in (valid during the callback only).
    package let parentFd: Int32
    package let name: PathBytes
    /// fstatat of the entry, not following a symlink.
    package let status: stat
    /// 1 for the names in the walk's root directory.
    package let depth: Int
    /// The path of the entry's directory relative to the walk's root (empty for the root itself).
    package let parentPath: PathBytes

    /// The entry's path relative to the walk's root.
    package var path: PathBytes { parentPath.isEmpty ? name : parentPath + [0x2F] + name }
    package var isDirectory: Bool { (status.st_mode & S_IFMT) == S_IFDIR }
    package var isRegular: Bool { (status.st_mode & S_IFMT) == S_IFREG }
    package var isSymlink: Bool { (status.st_mode & S_IFMT) == S_IFLNK }
}

/// The one walk over a directory tree on the repository side (trees being removed, trees being
/// verified or counted, staging, the object store): every call is relative to an open directory
/// (`openat`, `fstatat`), no symlink is followed, names stay bytes, and the depth is bounded by
/// neither the stack (the walk keeps its own) nor `PATH_MAX` (no path is ever given to the kernel)
/// nor the descriptor limit (at most `maxOpenDirectories` are open; a directory whose descriptor
/// was given up is reopened through its child's `..` and checked to be the same inode).
package struct TreeWalker {
    /// Names of a directory in byte order (else in the order the directory returns them).
    package var sorted = false
    /// Give directories that cannot be opened or searched u+rwx first (through the parent, or
    /// through the directory's own descriptor): for removal. Walks that only look change nothing.
    package var makeAccessible = false
    /// Directory descriptors held at once (besides the root's, which the caller owns).
    package var maxOpenDirectories = 64

    package init(sorted: Bool = false, makeAccessible: Bool = false) {
        self.sorted = sorted
        self.makeAccessible = makeAccessible
    }

    private struct Frame {
        /// -1 while given up to stay within `maxOpenDirectories`.
        var fd: Int32
        let device: UInt64
        let inode: UInt64
        let names: [PathBytes]
        var next = 0
        /// How the directory was entered (unused for the root).
        let name: PathBytes
        let status: stat
        let depth: Int
        /// Length of the walk's path buffer while inside this directory.
        let pathLength: Int
    }

    /// Walks everything below the open directory `rootFd` (which stays open and is not visited
    /// itself). `enter` sees every entry, a directory before its contents, and returns whether to
    /// descend into it (ignored for other entries); `leave` sees each directory that was descended
    /// into after its contents; `failed` receives a directory that could not be opened or listed
    /// (nil: the root), and the walk goes on with the rest. Throws what a callback throws, or when
    /// a reopened directory is not the one left (the tree was moved during the walk).
    package func walk(_ rootFd: Int32,
                      enter: (TreeEntry) throws -> Bool,
                      leave: (TreeEntry) throws -> Void = { _ in },
                      failed: (TreeEntry?, ImgsyncError) throws -> Void = { _, _ in }) throws {
        var rootStatus = stat()
        if fstat(rootFd, &rootStatus) != 0 { throw Syscall.failure("stat", "the tree's root directory") }
        let rootNames: [PathBytes]
        do {
            rootNames = try DirectoryListing.names(of: rootFd, sorted: sorted)
        } catch let e as ImgsyncError {
            try failed(nil, e)
            return
        }
        var stack = [Frame(fd: rootFd, device: UInt64(rootStatus.st_dev), inode: UInt64(rootStatus.st_ino), names: rootNames,
                           name: [], status: rootStatus, depth: 0, pathLength: 0)]
        // Frames 1..<firstOpen have given up their descriptor; firstOpen...top hold one.
        var firstOpen = 1
        var path: PathBytes = []
        defer {
            for i in stack.indices.dropFirst() where stack[i].fd >= 0 { Syscall.close(stack[i].fd) }
        }

        while let top = stack.indices.last {
            if stack[top].next < stack[top].names.count {
                let name = stack[top].names[stack[top].next]
                stack[top].next += 1
                let dirfd = stack[top].fd
                var st = stat()
                // Gone since the listing (or unreadable): nothing to visit.
                guard name.withCString({ fstatat(dirfd, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { continue }
                let entry = TreeEntry(parentFd: dirfd, name: name, status: st, depth: top + 1, parentPath: path)
                guard try enter(entry), entry.isDirectory else { continue }
                let child: Int32
                let names: [PathBytes]
                do {
                    child = try openDirectory(entry)
                    do {
                        names = try DirectoryListing.names(of: child, sorted: sorted)
                    } catch {
                        Syscall.close(child)
                        throw error
                    }
                } catch let e as ImgsyncError {
                    try failed(entry, e)
                    continue
                }
                if stack.count - firstOpen >= maxOpenDirectories && firstOpen < stack.count {
                    Syscall.close(stack[firstOpen].fd)
                    stack[firstOpen].fd = -1
                    firstOpen += 1
                }
                if !path.isEmpty { path.append(0x2F) }
                path.append(contentsOf: name)
                stack.append(Frame(fd: child, device: UInt64(st.st_dev), inode: UInt64(st.st_ino), names: names,
                                   name: name, status: st, depth: top + 1, pathLength: path.count))
            } else {
                guard top > 0 else { break }
                let done = stack.removeLast()
                let parent = top - 1
                if stack[parent].fd < 0 {
                    stack[parent].fd = try reopenParent(of: done, expecting: stack[parent])
                    firstOpen = parent
                }
                Syscall.close(done.fd)
                path.removeSubrange(stack[parent].pathLength...)
                try leave(TreeEntry(parentFd: stack[parent].fd, name: done.name, status: done.status, depth: done.depth, parentPath: path))
            }
        }
    }

    /// Opens the directory `entry` for listing; with `makeAccessible`, gives it u+rwx first when
    /// it cannot be opened, and after opening when it cannot be searched or written.
    func openDirectory(_ entry: TreeEntry) throws -> Int32 {
        let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        var fd = entry.name.withCString { openat(entry.parentFd, $0, flags) }
        if fd < 0 && errno == EACCES && makeAccessible {
            // fstatat just said it is a directory, not a symlink, and the caller holds the
            // repository lock: nothing swaps it for a symlink in between.
            let mode = mode_t(entry.status.st_mode & 0o7777) | 0o700
            if entry.name.withCString({ fchmodat(entry.parentFd, $0, mode, 0) }) == 0 {
                fd = entry.name.withCString { openat(entry.parentFd, $0, flags) }
            }
        }
        if fd < 0 { throw Syscall.failure("open directory", entry.path.escapedForDisplay(limit: 300)) }
        if makeAccessible && (entry.status.st_mode & 0o700) != 0o700 {
            _ = fchmod(fd, mode_t(entry.status.st_mode & 0o7777) | 0o700)
        }
        return fd
    }

    /// The descriptor of `parent`, given up earlier, reopened as `..` of the directory just left.
    private func reopenParent(of done: Frame, expecting parent: Frame) throws -> Int32 {
        let fd = Array("..".utf8).withCString { openat(done.fd, $0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        if fd < 0 {
            let e = errno
            Syscall.close(done.fd)
            throw Syscall.failure("reopen the parent of", done.name.escapedForDisplay(limit: 300), e)
        }
        var st = stat()
        guard fstat(fd, &st) == 0, UInt64(st.st_dev) == parent.device, UInt64(st.st_ino) == parent.inode else {
            Syscall.close(fd)
            Syscall.close(done.fd)
            throw ImgsyncError(.io, "the tree changed during the walk: the parent of \(done.name.escapedForDisplay(limit: 300)) is no longer the directory it was in")
        }
        return fd
    }
}
