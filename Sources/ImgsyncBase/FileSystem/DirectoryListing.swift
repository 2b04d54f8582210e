#if canImport(Glibc)
import Glibc
#endif

/// The names in a directory, as bytes (never decoded: a name that is not UTF-8 stays the name the
/// kernel has), without `.` and `..`.
package enum DirectoryListing {
    /// Reads every name of the open directory `fd` from its start. `fd` stays open and usable
    /// (the listing reads through a duplicate).
    package static func names(of fd: Int32, sorted: Bool = false) throws -> [PathBytes] {
        let copy = dup(fd)
        if copy < 0 { throw Syscall.failure("list directory", "fd \(fd)") }
        guard let dir = fdopendir(copy) else {
            let e = errno
            Syscall.close(copy)
            throw Syscall.failure("list directory", "fd \(fd)", e)
        }
        defer { closedir(dir) }
        // A duplicate shares the offset: start from the beginning whatever was read before.
        rewinddir(dir)
        var out: [PathBytes] = []
        while true {
            errno = 0
            guard let ent = readdir(dir) else {
                if errno != 0 { throw Syscall.failure("list directory", "fd \(fd)") }
                break
            }
            let name: PathBytes = withUnsafePointer(to: &ent.pointee.d_name) { p in
                p.withMemoryRebound(to: UInt8.self, capacity: MemoryLayout.size(ofValue: ent.pointee.d_name)) { bytes in
                    Array(UnsafeBufferPointer(start: bytes, count: strlen(UnsafeRawPointer(bytes).assumingMemoryBound(to: CChar.self))))
                }
            }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            out.append(name)
        }
        if sorted { out.sort { $0.lexicographicallyPrecedes($1) } }
        return out
    }

    /// The names in directory `name` below `dirfd`; empty when it does not exist.
    package static func names(at dirfd: Int32, _ name: PathBytes, sorted: Bool = false) throws -> [PathBytes] {
        let fd = name.withCString { openat(dirfd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        if fd < 0 {
            if errno == ENOENT { return [] }
            throw Syscall.failure("open directory", name.escapedForDisplay)
        }
        defer { Syscall.close(fd) }
        return try names(of: fd, sorted: sorted)
    }
}

extension Array where Element == UInt8 {
    /// `escapedForDisplay`, with the middle left out when the result would be longer than `limit`
    /// characters (a path thousands of components deep stays one readable line).
    package func escapedForDisplay(limit: Int) -> String {
        let full = escapedForDisplay
        guard full.count > limit, limit >= 16 else { return full }
        let keep = (limit - 5) / 2
        return String(full.prefix(keep)) + " … " + String(full.suffix(keep))
    }
}
