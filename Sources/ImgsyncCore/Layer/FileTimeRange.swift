#if canImport(Glibc)
import Glibc
#endif

/// The file times a filesystem stores. Linux clamps a time outside its filesystem's range without an
/// error (ext4: 1901-12-13 to 2446-05-10; tmpfs: all of `Int64`) and zeroes the nanoseconds at either
/// bound. The layer applier clamps every mtime the same way before it records or applies it, so the
/// catalog says what the disk holds (docs/on-disk-format.md, "Times").
struct FileTimeRange: Equatable {
    var min: Int64
    var max: Int64

    /// Everything a `timespec` holds: used when the filesystem cannot be probed.
    static let unlimited = FileTimeRange(min: .min, max: .max)

    /// Asks the filesystem of `dirfd` for its range: sets both extreme times on a scratch file (removed
    /// at once) and reads back what the kernel kept.
    static func probe(dirfd: Int32) -> FileTimeRange {
        let name = Array(TemporaryName.next(prefix: ".imgsync-time-probe-").utf8)
        let fd = name.withCString { openat(dirfd, $0, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        guard fd >= 0 else { return .unlimited }
        defer {
            _ = name.withCString { unlinkat(dirfd, $0, 0) }
            Syscall.close(fd)
        }
        func kept(_ sec: Int64) -> Int64? {
            guard (try? Syscall.setTimes(fd: fd, sec: sec, nsec: 0)) != nil else { return nil }
            var st = stat()
            guard fstat(fd, &st) == 0 else { return nil }
            return Int64(st.st_mtim.tv_sec)
        }
        guard let high = kept(.max), let low = kept(.min), low <= 0, high >= 0 else { return .unlimited }
        return FileTimeRange(min: low, max: high)
    }

    /// `sec.nnnnnnnnn`, as the catalog tools print times.
    static func format(_ sec: Int64, _ nsec: UInt32) -> String {
        let digits = String(nsec)
        return "\(sec)." + String(repeating: "0", count: Swift.max(0, 9 - digits.count)) + digits
    }

    /// The time the filesystem will keep for `sec.nsec`: clamped into the range, with no nanoseconds
    /// at either bound (as the kernel does).
    func clamp(sec: Int64, nsec: UInt32) -> (sec: Int64, nsec: UInt32) {
        if sec <= min { return (min, 0) }
        if sec >= max { return (max, 0) }
        return (sec, nsec)
    }
}
