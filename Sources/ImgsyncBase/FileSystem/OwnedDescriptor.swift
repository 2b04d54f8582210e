#if canImport(Glibc)
import Glibc
#endif
import CImgsyncSys

/// A file descriptor this object owns: closed exactly once, when the object goes. Directory work on
/// the repository side is done relative to these (`openat`, `unlinkat`, `renameat2`), never through a
/// path string, so names are bytes and depth is not bounded by `PATH_MAX`.
package final class OwnedDescriptor {
    package let rawValue: Int32

    package init(taking fd: Int32) {
        precondition(fd >= 0, "an owned descriptor needs a valid fd")
        rawValue = fd
    }

    deinit { Syscall.close(rawValue) }

    /// Opens the directory `name` below `dirfd` without following a symlink at the last component.
    package static func directory(at dirfd: Int32, _ name: PathBytes) throws -> OwnedDescriptor {
        OwnedDescriptor(taking: try Syscall.openDirectory(at: dirfd, name))
    }

    /// Opens the directory at `path` (the repository root; a path the operator gave).
    package static func directory(atPath path: String) throws -> OwnedDescriptor {
        OwnedDescriptor(taking: try Syscall.openPath(path, flags: O_RDONLY | O_DIRECTORY))
    }

    /// `directory(at:_:)` for a relative path of several components (fixed repository paths such as
    /// `.imgsync/staging`; intermediate components are followed as the kernel does).
    package static func directory(at dirfd: Int32, path: String) throws -> OwnedDescriptor {
        try directory(at: dirfd, Array(path.utf8))
    }

    /// fstat of the descriptor.
    package func status() throws -> stat {
        var st = Glibc.stat()
        if fstat(rawValue, &st) != 0 { throw Syscall.failure("stat", "fd \(rawValue)") }
        return st
    }
}

extension Syscall {
    /// Creates directory `name` below `dirfd` unless it exists; true when it was created.
    @discardableResult
    package static func makeDirectory(at dirfd: Int32, _ name: PathBytes, mode: mode_t) throws -> Bool {
        let r = name.withCString { mkdirat(dirfd, $0, mode) }
        if r == 0 { return true }
        if errno == EEXIST { return false }
        throw failure("create directory", name.escapedForDisplay)
    }

    /// renameat2(RENAME_NOREPLACE) when `replace` is false, renameat otherwise.
    package static func rename(at olddir: Int32, _ old: PathBytes, to newdir: Int32, _ new: PathBytes, replace: Bool) throws {
        if replace { return try rename(at: olddir, old, to: newdir, new) }
        let r = old.withCString { o in new.withCString { imgsync_rename_noreplace(olddir, o, newdir, $0) } }
        if r != 0 { throw failure("rename", "\(old.escapedForDisplay) to \(new.escapedForDisplay)") }
    }

    /// The target of the symlink `name` below `dirfd` (bytes, any length the kernel returns).
    package static func readLink(at dirfd: Int32, _ name: PathBytes) throws -> PathBytes {
        var size = 4096
        while true {
            var buf = [UInt8](repeating: 0, count: size)
            let n = name.withCString { p in buf.withUnsafeMutableBytes { readlinkat(dirfd, p, $0.baseAddress!.assumingMemoryBound(to: CChar.self), size) } }
            if n < 0 { throw failure("read link", name.escapedForDisplay) }
            if n < size { return Array(buf[0..<n]) }
            size *= 2
        }
    }
}

extension OwnedDescriptor {
    /// The directory holding `path` (components relative to `rootFd`, none of them followed if it
    /// is a symlink) and the last component: for reaching a name thousands of levels down without
    /// `PATH_MAX` limits. A path of one component gives a duplicate of `rootFd`.
    package static func parent(of path: PathBytes, under rootFd: Int32) throws -> (directory: OwnedDescriptor, name: PathBytes) {
        let parts = path.split(separator: 0x2F, omittingEmptySubsequences: true).map { Array($0) }
        guard let last = parts.last else { throw ImgsyncError(.invalidArgument, "an empty path names no file") }
        let first = dup(rootFd)
        if first < 0 { throw Syscall.failure("duplicate", "fd \(rootFd)") }
        var dir = OwnedDescriptor(taking: first)
        for component in parts.dropLast() {
            dir = try OwnedDescriptor.directory(at: dir.rawValue, component)
        }
        return (dir, last)
    }
}
