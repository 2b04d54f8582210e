#if canImport(Glibc)
import Glibc
#endif

/// What one path of a tree is on disk (lstat, no symlink followed).
struct DiskEntry {
    var type: CatalogEntryType?
    /// `st_mode & 0o7777`.
    var mode: UInt32
    var size: Int64
    var blocks: Int64
    var mtime: Int64
    var mtimeNsec: UInt32
    var device: UInt64
    var inode: UInt64
    var links: Int
    var linkTarget: PathBytes = []
    /// SHA-256 of a regular file's body, when the walk was asked to hash it.
    var contentDigest: Digest?
    /// A read error for this path (the walk goes on).
    var error: String?

    init(_ st: stat) {
        switch st.st_mode & S_IFMT {
        case S_IFDIR: type = .directory
        case S_IFREG: type = .regular
        case S_IFLNK: type = .symlink
        case S_IFCHR: type = .charDevice
        case S_IFBLK: type = .blockDevice
        case S_IFIFO: type = .fifo
        default: type = nil
        }
        mode = UInt32(st.st_mode) & 0o7777
        size = Int64(st.st_size)
        blocks = Int64(st.st_blocks)
        mtime = Int64(st.st_mtim.tv_sec)
        mtimeNsec = UInt32(st.st_mtim.tv_nsec)
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        links = Int(st.st_nlink)
    }
}

/// Walks a tree on disk with fd-relative, no-follow calls, so a symlink where a directory should be
/// is reported as a symlink and never followed out of the tree.
enum DiskTree {
    /// Every path under `path` (the root itself as the empty path). `hash` decides, per regular file,
    /// whether to read and hash its body.
    static func walk(_ path: String, hash: (PathBytes, DiskEntry) -> Bool = { _, _ in false }) throws -> [PathBytes: DiskEntry] {
        var out: [PathBytes: DiskEntry] = [:]
        var st = stat()
        guard lstat(path, &st) == 0 else { throw Syscall.failure("stat", path) }
        out[[]] = DiskEntry(st)
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return out }
        let fd = path.withCString { open($0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        if fd < 0 { throw Syscall.failure("open", path) }
        walkDirectory(fd, [], &out, hash)
        return out
    }

    /// Reads one directory (takes ownership of `fd`).
    private static func walkDirectory(_ fd: Int32, _ prefix: PathBytes, _ out: inout [PathBytes: DiskEntry],
                                      _ hash: (PathBytes, DiskEntry) -> Bool) {
        guard let dir = fdopendir(fd) else {
            Syscall.close(fd)
            out[prefix]?.error = "cannot list directory: \(Syscall.errorString(errno))"
            return
        }
        defer { closedir(dir) }
        var subdirs: [PathBytes] = []
        while let ent = readdir(dir) {
            let name: PathBytes = withUnsafePointer(to: &ent.pointee.d_name) {
                $0.withMemoryRebound(to: UInt8.self, capacity: 256) { Array(UnsafeBufferPointer(start: $0, count: strlen(UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)))) }
            }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            let rel = prefix.isEmpty ? name : prefix + [0x2F] + name
            var st = stat()
            let r = name.withCString { fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW) }
            if r != 0 { continue }
            var entry = DiskEntry(st)
            switch entry.type {
            case .directory:
                subdirs.append(name)
            case .symlink:
                var buf = [UInt8](repeating: 0, count: 4097)
                let n = name.withCString { p in buf.withUnsafeMutableBytes { readlinkat(fd, p, $0.baseAddress!.assumingMemoryBound(to: CChar.self), 4096) } }
                if n >= 0 { entry.linkTarget = Array(buf[0..<n]) } else { entry.error = "cannot read link: \(Syscall.errorString(errno))" }
            case .regular where hash(rel, entry):
                let ffd = name.withCString { openat(fd, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
                if ffd < 0 {
                    entry.error = "cannot open: \(Syscall.errorString(errno))"
                } else {
                    do { entry.contentDigest = try hashFile(ffd) } catch { entry.error = "cannot read: \(error)" }
                    Syscall.close(ffd)
                }
            default:
                break
            }
            out[rel] = entry
        }
        for name in subdirs {
            let rel = prefix.isEmpty ? name : prefix + [0x2F] + name
            let sub = name.withCString { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            if sub < 0 {
                out[rel]?.error = "cannot open directory: \(Syscall.errorString(errno))"
                continue
            }
            walkDirectory(sub, rel, &out, hash)
        }
    }

    /// SHA-256 of everything readable from `fd`.
    static func hashFile(_ fd: Int32) throws -> Digest {
        let hasher = SHA256Hasher()
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Syscall.failure("read", "file")
            }
            if n == 0 { break }
            buf.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return hasher.finalize()
    }

    /// SHA-256 of the file at `path` (not following a final symlink).
    static func hashFile(atPath path: String) throws -> Digest {
        let fd = path.withCString { open($0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        if fd < 0 { throw Syscall.failure("open", path) }
        defer { Syscall.close(fd) }
        return try hashFile(fd)
    }
}
