#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Thin wrappers over the fd-relative system calls the layer engine uses. Each failure becomes an
/// `ImgsyncError(.io)` carrying errno and the operation, so callers can add the layer and entry.
package enum Syscall {
    package static func errorString(_ e: Int32) -> String {
        guard let p = strerror(e) else { return "errno \(e)" }
        return String(cString: p)
    }

    package static func failure(_ op: String, _ what: String, _ e: Int32 = errno) -> ImgsyncError {
        ImgsyncError(.io, "\(op) \(what): \(errorString(e))", errno: e)
    }

    /// Retries a call interrupted by a signal.
    @inline(__always)
    package static func retrying(_ body: () -> Int32) -> Int32 {
        while true {
            let r = body()
            if r == -1 && errno == EINTR { continue }
            return r
        }
    }

    package static func openDirectory(at dirfd: Int32, _ name: PathBytes) throws -> Int32 {
        let fd = name.withCString { p in retrying { openat(dirfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) } }
        if fd < 0 { throw failure("open directory", name.escapedForDisplay) }
        return fd
    }

    package static func openPath(_ path: String, flags: Int32, mode: mode_t = 0) throws -> Int32 {
        let fd = retrying { open(path, flags | O_CLOEXEC, mode) }
        if fd < 0 { throw failure("open", path) }
        return fd
    }

    package static func mkdir(at dirfd: Int32, _ name: PathBytes, mode: mode_t = 0o700) throws {
        let r = name.withCString { mkdirat(dirfd, $0, mode) }
        if r != 0 { throw failure("mkdir", name.escapedForDisplay) }
    }

    package static func unlink(at dirfd: Int32, _ name: PathBytes, directory: Bool = false) throws {
        let r = name.withCString { unlinkat(dirfd, $0, directory ? AT_REMOVEDIR : 0) }
        if r != 0 { throw failure("remove", name.escapedForDisplay) }
    }

    package static func symlink(_ target: PathBytes, at dirfd: Int32, _ name: PathBytes) throws {
        let r = target.withCString { t in name.withCString { symlinkat(t, dirfd, $0) } }
        if r != 0 { throw failure("symlink", name.escapedForDisplay) }
    }

    /// Hard-links without following a final symlink (links the link itself).
    package static func link(from srcdir: Int32, _ src: PathBytes, to dstdir: Int32, _ dst: PathBytes) throws {
        let r = src.withCString { s in dst.withCString { linkat(srcdir, s, dstdir, $0, 0) } }
        if r != 0 { throw failure("link", "\(dst.escapedForDisplay) to \(src.escapedForDisplay)") }
    }

    package static func setTimes(at dirfd: Int32, _ name: PathBytes, sec: Int64, nsec: UInt32, follow: Bool = false) throws {
        var ts = [timespec(tv_sec: Int(sec), tv_nsec: Int(nsec)), timespec(tv_sec: Int(sec), tv_nsec: Int(nsec))]
        let r = name.withCString { utimensat(dirfd, $0, &ts, follow ? 0 : AT_SYMLINK_NOFOLLOW) }
        if r != 0 { throw failure("set times of", name.escapedForDisplay) }
    }

    package static func setTimes(fd: Int32, sec: Int64, nsec: UInt32) throws {
        var ts = [timespec(tv_sec: Int(sec), tv_nsec: Int(nsec)), timespec(tv_sec: Int(sec), tv_nsec: Int(nsec))]
        if futimens(fd, &ts) != 0 { throw failure("set times of", "fd \(fd)") }
    }

    package static func chmod(fd: Int32, _ mode: mode_t) throws {
        if fchmod(fd, mode) != 0 { throw failure("chmod", "fd \(fd)") }
    }

    package static func writeAll(_ fd: Int32, _ buf: UnsafeRawBufferPointer) throws {
        try wholeWrite(fd, buf.count) { write(fd, buf.baseAddress! + $0, buf.count - $0) }
    }

    /// Writes all of `buf` at `offset` (the file offset does not move).
    package static func writeAll(_ fd: Int32, _ buf: UnsafeRawBufferPointer, at offset: Int64) throws {
        try wholeWrite(fd, buf.count) { pwrite(fd, buf.baseAddress! + $0, buf.count - $0, off_t(offset) + off_t($0)) }
    }

    /// Reads up to `buf.count` bytes at `offset` (fewer only at the end of the file; 0 there).
    package static func read(_ fd: Int32, _ buf: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        try whole("read", fd, buf.count) { pread(fd, buf.baseAddress! + $0, buf.count - $0, off_t(offset) + off_t($0)) }
    }

    private static func wholeWrite(_ fd: Int32, _ count: Int, _ call: (Int) -> Int) throws {
        if try whole("write", fd, count, call) < count { throw failure("write", "fd \(fd)", EIO) }
    }

    /// Calls `call(done)` (a read or write of the bytes after the first `done`) until `count`
    /// bytes are done or a call moves none (the end of a file); retries `EINTR`.
    private static func whole(_ op: String, _ fd: Int32, _ count: Int, _ call: (Int) -> Int) throws -> Int {
        var done = 0
        while done < count {
            let n = call(done)
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(op, "fd \(fd)")
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Moves the file offset `count` bytes forward (over a hole).
    package static func skip(_ fd: Int32, _ count: Int64) throws {
        if lseek(fd, off_t(count), SEEK_CUR) < 0 { throw failure("seek", "fd \(fd)") }
    }

    package static func truncate(fd: Int32, _ size: Int64) throws {
        if ftruncate(fd, off_t(size)) != 0 { throw failure("set the size of", "fd \(fd)") }
    }

    package static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// fstatat without following a final symlink; nil when the name does not exist.
    package static func lstat(at dirfd: Int32, _ name: PathBytes) throws -> stat? {
        var st = stat()
        let r = name.withCString { fstatat(dirfd, $0, &st, AT_SYMLINK_NOFOLLOW) }
        if r != 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw failure("stat", name.escapedForDisplay)
        }
        return st
    }

    package static func rename(at olddir: Int32, _ old: PathBytes, to newdir: Int32, _ new: PathBytes) throws {
        let r = old.withCString { o in new.withCString { renameat(olddir, o, newdir, $0) } }
        if r != 0 { throw failure("rename", "\(old.escapedForDisplay) to \(new.escapedForDisplay)") }
    }
}

extension Array where Element == UInt8 {
    /// Calls `body` with a NUL-terminated copy of the bytes.
    @inline(__always)
    package func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { buf in
            withUnsafeBytes { src in
                if let base = src.baseAddress, count > 0 {
                    UnsafeMutableRawPointer(buf.baseAddress!).copyMemory(from: base, byteCount: count)
                }
            }
            buf[count] = 0
            return try body(buf.baseAddress!)
        }
    }
}
