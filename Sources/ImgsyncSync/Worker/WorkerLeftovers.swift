#if canImport(Glibc)
import Glibc
#endif

/// What a build worker may leave in the repository when it dies (a trap, SIGKILL), found by its
/// pid: every temporary name imgsync makes is `<prefix><pid>-<n>-<random>` (`TemporaryName`). The
/// next lock would remove them too (`Repository.cleanStaging`); removing them when the worker ends
/// keeps a long run from carrying a dead build's staging tree until then.
enum WorkerLeftovers {
    /// `nameDirectory` is the directory of the name being published (a temporary link may be
    /// there).
    static func remove(pid: pid_t, root: String, nameDirectory: String) {
        let p = "\(pid)-"
        removeEntries(in: root + "/.imgsync/staging", trees: true) { $0.hasPrefix("build-" + p) }
        removeEntries(in: root + "/.objects/tmp") { $0.hasPrefix(p) }
        for dir in [".imgsync", ".imgsync/catalogs/chains", ".imgsync/catalogs/images", ".imgsync/images"] {
            removeEntries(in: root + "/" + dir) { $0.contains(".tmp-" + p) }
        }
        removeEntries(in: nameDirectory) { $0.hasPrefix(".imgsync-link-" + p) }
    }

    /// Removes the entries of `directory` whose names `matches` (these names are imgsync's own,
    /// ASCII); with `trees`, directories with everything in them.
    static func removeEntries(in directory: String, trees: Bool = false, _ matches: (String) -> Bool) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { WorkerSys.close(fd) }
        for name in entries(fd) where matches(String(decoding: name.map { UInt8(bitPattern: $0) }, as: UTF8.self)) {
            if trees {
                removeTree(name, in: fd)
            } else {
                _ = unlinkat(fd, name + [0], 0)
            }
        }
    }

    /// The names in the directory `fd` (without `.` and `..`), as raw bytes.
    static func entries(_ fd: Int32) -> [[CChar]] {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else {
            if copy >= 0 { WorkerSys.close(copy) }
            return []
        }
        defer { closedir(dir) }
        var names: [[CChar]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { raw -> [CChar] in
                Array(raw.bindMemory(to: CChar.self).prefix { $0 != 0 })
            }
            if name == [0x2e] || name == [0x2e, 0x2e] { continue }
            names.append(name)
        }
        return names
    }

    /// Opens the directory `name` in `dirfd` without following a symlink, making it writable and
    /// searchable first (trees hold 0555 and 0000 directories); nil when it is not a directory.
    static func openDirectory(_ name: [CChar], in dirfd: Int32) -> Int32? {
        let c = name + [0]
        var st = stat()
        guard fstatat(dirfd, c, &st, AT_SYMLINK_NOFOLLOW) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return nil }
        _ = fchmodat(dirfd, c, 0o700, 0)
        let fd = openat(dirfd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        return fd >= 0 ? fd : nil
    }

    /// Removes `name` in `parentFd` and everything under it, with fd-relative calls on the raw
    /// names (a tree's names need not be UTF-8), never following a symlink. One directory is open
    /// at a time whatever the depth: the walk climbs back through `..`, which is safe here because
    /// no other process uses a dead worker's staging tree.
    static func removeTree(_ name: [CChar], in parentFd: Int32) {
        guard var fd = openDirectory(name, in: parentFd) else {
            _ = unlinkat(parentFd, name + [0], 0)
            return
        }
        // Per open level: its name and the subdirectories still to remove.
        var stack: [(name: [CChar], subdirectories: [[CChar]])] = [(name, clear(fd))]
        while !stack.isEmpty {
            if let sub = stack[stack.count - 1].subdirectories.popLast() {
                if let child = openDirectory(sub, in: fd) {
                    WorkerSys.close(fd)
                    fd = child
                    stack.append((sub, clear(fd)))
                } else {
                    _ = unlinkat(fd, sub + [0], AT_REMOVEDIR)
                }
                continue
            }
            let done = stack.removeLast()
            if stack.isEmpty {
                WorkerSys.close(fd)
                _ = unlinkat(parentFd, done.name + [0], AT_REMOVEDIR)
                return
            }
            let up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            WorkerSys.close(fd)
            guard up >= 0 else { return }
            fd = up
            _ = unlinkat(fd, done.name + [0], AT_REMOVEDIR)
        }
    }

    /// Unlinks everything in the directory `fd` but its subdirectories, which it returns.
    private static func clear(_ fd: Int32) -> [[CChar]] {
        var subdirectories: [[CChar]] = []
        for name in entries(fd) {
            var st = stat()
            if fstatat(fd, name + [0], &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
                subdirectories.append(name)
            } else {
                _ = unlinkat(fd, name + [0], 0)
            }
        }
        return subdirectories
    }
}
