import Foundation
@testable import ImgsyncCore

/// A scratch directory for the applier target: `victim/` (a file, a directory and a symlink that a
/// hostile layer would like to reach) beside `run/`, which holds one input's repository and tree and
/// is removed after each input. Nothing but `run/` may ever change.
final class Scratch {
    let base: String
    let run: String
    private let sentinel: [PathBytes: String]

    init() {
        let parent = ProcessInfo.processInfo.environment["FUZZ_TMPDIR"]
            ?? (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NSTemporaryDirectory())
        base = parent + "/imgsync-fuzz-\(getpid())"
        run = base + "/run"
        Scratch.remove(base)
        for dir in [base, base + "/victim", base + "/victim/dir"] where mkdir(dir, 0o755) != 0 {
            finding("cannot create \(dir): errno \(errno)")
        }
        guard FileManager.default.createFile(atPath: base + "/victim/hello", contents: Data("hello".utf8)) else {
            finding("cannot create \(base)/victim/hello")
        }
        symlink("../victim/hello", base + "/victim/link")
        sentinel = Scratch.listing(base, skipping: Array("run".utf8))
        atexit { Scratch.remove(Scratch.current?.base ?? "") }
    }

    nonisolated(unsafe) static var current: Scratch?

    /// Everything under `base` but `run/`: path → type, mode, size, mtime, body.
    static func listing(_ base: String, skipping: PathBytes) -> [PathBytes: String] {
        var out: [PathBytes: String] = [:]
        let fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return out }
        defer { close(fd) }
        func walk(_ dirfd: Int32, _ prefix: PathBytes) {
            let own = dup(dirfd)
            guard own >= 0, let dir = fdopendir(own) else { return }
            var names: [PathBytes] = []
            while let ent = readdir(dir) {
                let name = withUnsafeBytes(of: ent.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
                if name != [0x2E] && name != [0x2E, 0x2E] { names.append(name) }
            }
            closedir(dir)
            for name in names where !(prefix.isEmpty && name == skipping) {
                let path = prefix.isEmpty ? name : prefix + [0x2F] + name
                var st = stat()
                guard name.withCString({ fstatat(dirfd, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { continue }
                var text = "\(st.st_mode) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(st.st_ino)"
                if (st.st_mode & S_IFMT) == S_IFREG {
                    let file = name.withCString { openat(dirfd, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
                    if file >= 0 {
                        var buf = [UInt8](repeating: 0, count: 4096)
                        let n = buf.withUnsafeMutableBytes { read(file, $0.baseAddress, $0.count) }
                        close(file)
                        text += " " + (n > 0 ? buf[0..<n].map { String($0) }.joined(separator: ",") : "")
                    }
                }
                out[path] = text
                if (st.st_mode & S_IFMT) == S_IFDIR {
                    let child = name.withCString { openat(dirfd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
                    if child >= 0 {
                        walk(child, path)
                        close(child)
                    }
                }
            }
        }
        walk(fd, [])
        return out
    }

    /// Checks that nothing outside `run/` changed.
    func checkSentinel() {
        let now = Scratch.listing(base, skipping: Array("run".utf8))
        if now != sentinel {
            let changed = Set(now.keys).symmetricDifference(sentinel.keys).union(now.keys.filter { now[$0] != sentinel[$0] })
            finding("outside the tree changed: \(changed.map(\.escapedForDisplay).sorted())")
        }
    }

    /// Removes a tree whatever its names, depth and modes (fd-relative, no symlink followed).
    static func remove(_ path: String) {
        guard !path.isEmpty else { return }
        let parent = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else { return }
        defer { close(parent) }
        removeEntry(parent, Array((path as NSString).lastPathComponent.utf8))
    }

    private static func removeEntry(_ dirfd: Int32, _ name: PathBytes) {
        if name.withCString({ unlinkat(dirfd, $0, 0) }) == 0 || errno == ENOENT { return }
        _ = name.withCString { fchmodat(dirfd, $0, 0o700, 0) }
        let fd = name.withCString { openat(dirfd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        if fd >= 0 {
            let own = dup(fd)
            var names: [PathBytes] = []
            if own >= 0, let dir = fdopendir(own) {
                while let ent = readdir(dir) {
                    let child = withUnsafeBytes(of: ent.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
                    if child != [0x2E] && child != [0x2E, 0x2E] { names.append(child) }
                }
                closedir(dir)
            }
            for child in names { removeEntry(fd, child) }
            close(fd)
        }
        _ = name.withCString { unlinkat(dirfd, $0, AT_REMOVEDIR) }
    }
}
