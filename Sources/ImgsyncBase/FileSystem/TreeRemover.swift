#if canImport(Glibc)
import Glibc
#endif

/// The one way the repository side deletes a tree (failed builds, staging left by a dead process,
/// GC, `verify --repair`, trees replaced by a rebuild): `TreeWalker` with `makeAccessible`, then
/// `unlinkat` relative to each parent, so names that are not UTF-8, paths longer than `PATH_MAX`,
/// thousands of levels and directories without write or search permission (trees hold 0555 and
/// 0000 directories) are all removed. Symlinks are removed, never followed.
package enum TreeRemover {
    /// What a removal took away.
    package struct Removed: Sendable, Equatable {
        /// Names unlinked (files, symlinks, directories).
        package var entries = 0
        /// Apparent bytes of regular files whose last link went (their inode is freed).
        package var bytesFreed: Int64 = 0
        package init() {}
    }

    /// Removes `name` below the open directory `dirfd` and everything under it; nothing when it
    /// does not exist. Goes on past failures and then throws one error naming how many names
    /// stayed and the first of them with its reason.
    @discardableResult
    package static func remove(_ name: PathBytes, in dirfd: Int32) throws -> Removed {
        var removed = Removed()
        var st = stat()
        if name.withCString({ fstatat(dirfd, $0, &st, AT_SYMLINK_NOFOLLOW) }) != 0 {
            if errno == ENOENT { return removed }
            throw Syscall.failure("stat", name.escapedForDisplay(limit: 300))
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            if name.withCString({ unlinkat(dirfd, $0, 0) }) != 0 { throw Syscall.failure("remove", name.escapedForDisplay(limit: 300)) }
            removed.entries = 1
            if (st.st_mode & S_IFMT) == S_IFREG && st.st_nlink == 1 { removed.bytesFreed = Int64(st.st_size) }
            return removed
        }
        var failures = Failures(root: name)
        let entry = TreeEntry(parentFd: dirfd, name: name, status: st, depth: 0, parentPath: [])
        let walker = TreeWalker(makeAccessible: true)
        do {
            let fd = try walker.openDirectory(entry)
            defer { Syscall.close(fd) }
            try removeContents(of: fd, walker: walker, into: &removed, failures: &failures)
        } catch let e as ImgsyncError {
            failures.record(e, at: [])
        }
        if name.withCString({ unlinkat(dirfd, $0, AT_REMOVEDIR) }) == 0 {
            removed.entries += 1
        } else {
            failures.record(Syscall.failure("remove directory", name.escapedForDisplay(limit: 300)), at: [])
        }
        if let error = failures.error { throw error }
        return removed
    }

    /// Removes everything below the open directory `fd`, which stays (and stays open).
    @discardableResult
    package static func removeContents(of fd: Int32) throws -> Removed {
        var removed = Removed()
        var failures = Failures(root: [])
        try removeContents(of: fd, walker: TreeWalker(makeAccessible: true), into: &removed, failures: &failures)
        if let error = failures.error { throw error }
        return removed
    }

    private static func removeContents(of fd: Int32, walker: TreeWalker, into removed: inout Removed, failures: inout Failures) throws {
        try walker.walk(fd, enter: { e in
            if e.isDirectory { return true }
            if e.name.withCString({ unlinkat(e.parentFd, $0, 0) }) == 0 {
                removed.entries += 1
                if e.isRegular && e.status.st_nlink == 1 { removed.bytesFreed += Int64(e.status.st_size) }
            } else {
                failures.record(Syscall.failure("remove", "it"), at: e.path)
            }
            return false
        }, leave: { e in
            if e.name.withCString({ unlinkat(e.parentFd, $0, AT_REMOVEDIR) }) == 0 {
                removed.entries += 1
            } else {
                failures.record(Syscall.failure("remove directory", "it"), at: e.path)
            }
        }, failed: { e, error in
            failures.record(error, at: e?.path ?? [])
        })
    }

    /// The first failure that is a cause (a directory left non-empty by a child that stayed is a
    /// consequence), and how many names stayed.
    private struct Failures {
        let root: PathBytes
        var count = 0
        var first: (path: PathBytes, error: ImgsyncError)?

        mutating func record(_ error: ImgsyncError, at path: PathBytes) {
            if error.errno == ENOTEMPTY && first != nil { return }
            count += 1
            if first == nil || first!.error.errno == ENOTEMPTY { first = (path, error) }
        }

        var error: ImgsyncError? {
            guard let first else { return nil }
            let full = path(first.path)
            let reason = first.error.errno.map { Syscall.errorString($0) } ?? first.error.message
            let what = count == 1 ? "" : " (\(count) names stayed)"
            return ImgsyncError(.io, "could not remove \"\(full.escapedForDisplay(limit: 300))\": \(reason)\(what)", errno: first.error.errno)
        }

        func path(_ relative: PathBytes) -> PathBytes {
            if root.isEmpty { return relative }
            return relative.isEmpty ? root : root + [0x2F] + relative
        }
    }
}
