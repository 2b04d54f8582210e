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

/// A tree on disk as a map of its paths (`TreeWalker`: fd-relative, no symlink followed, names as
/// bytes, any depth), so a symlink where a directory should be is reported as a symlink and never
/// followed out of the tree.
enum DiskTree {
    /// Every path under `path` (the root itself as the empty path). `hash` decides, per regular file,
    /// whether to read and hash its body.
    static func walk(_ path: String, hash: (PathBytes, DiskEntry) -> Bool = { _, _ in false }) throws -> [PathBytes: DiskEntry] {
        var st = stat()
        guard lstat(path, &st) == 0 else { throw Syscall.failure("stat", path) }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return [[]: DiskEntry(st)] }
        let fd = try OwnedDescriptor.directory(atPath: path)
        return try walk(fd.rawValue, hash: hash)
    }

    /// Every path under the open directory `fd` (the directory itself as the empty path).
    static func walk(_ fd: Int32, hash: (PathBytes, DiskEntry) -> Bool = { _, _ in false }) throws -> [PathBytes: DiskEntry] {
        var out: [PathBytes: DiskEntry] = [:]
        var st = stat()
        if fstat(fd, &st) != 0 { throw Syscall.failure("stat", "the tree's root") }
        out[[]] = DiskEntry(st)
        try TreeWalker().walk(fd, enter: { e in
            let rel = e.path
            var entry = DiskEntry(e.status)
            switch entry.type {
            case .symlink:
                do { entry.linkTarget = try Syscall.readLink(at: e.parentFd, e.name) } catch let error as ImgsyncError {
                    entry.error = "cannot read link: \(error.errno.map(Syscall.errorString) ?? error.message)"
                }
            case .regular where hash(rel, entry):
                let ffd = e.name.withCString { openat(e.parentFd, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
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
            return true
        }, failed: { e, error in
            let reason = "cannot list directory: \(error.errno.map(Syscall.errorString) ?? error.message)"
            out[e?.path ?? [], default: DiskEntry(st)].error = reason
        })
        return out
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
