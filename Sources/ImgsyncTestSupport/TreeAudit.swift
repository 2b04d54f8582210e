import ImgsyncCore
#if canImport(Glibc)
import Glibc
#endif

/// Compares a tree on disk with its catalog under the normalisation of docs/on-disk-format.md, walking
/// with fd-relative calls so that any name (not UTF-8, deeper than PATH_MAX) is reached. Shared by the
/// test suites (`expectTree`) and the layer-applier fuzz target, which both need "the tree is exactly
/// what its catalog says".
public enum TreeAudit {
    /// Every difference found, one line each; empty when the tree matches. Checked: each catalog path
    /// is on disk with its type (devices and FIFOs are not), permission bits as stored (directories
    /// exact, files without write/setuid/setgid bits), mtime, size, body (sha256) and symlink target;
    /// paths sharing a link group share an inode; no path on disk is missing from the catalog and no
    /// name starts with `.wh.`.
    /// - Parameters:
    ///   - shared: whether tree files share their inode with an object (hardlink mode); nil accepts either.
    ///   - worldReadable: whether the tree was made a+rX on disk (`--world-readable`).
    public static func differences(treeFd: Int32, catalog: [CatalogEntry], shared: Bool? = nil,
                                   worldReadable: Bool = false, hashBodies: Bool = true) -> [String] {
        var out: [String] = []
        var groups: [UInt64: (device: UInt64, inode: UInt64)] = [:]
        for entry in catalog {
            let shown = entry.path.isEmpty ? "/" : entry.path.escapedForDisplay
            for component in entry.path.split(separator: 0x2F) where component.starts(with: whiteoutPrefix) {
                out.append("\(shown): whiteout name in the catalog")
            }
            let st = lstat(treeFd, entry.path)
            switch entry.type {
            case .charDevice, .blockDevice, .fifo:
                if st != nil { out.append("\(shown): a \(entry.type) is recorded only, yet it is on disk") }
                continue
            default:
                break
            }
            guard let st else {
                out.append("\(shown): in the catalog (\(entry.type)) but not on disk")
                continue
            }
            let kind = st.st_mode & S_IFMT
            let mode = UInt32(st.st_mode) & 0o7777
            let mtime = (Int64(st.st_mtim.tv_sec), UInt32(st.st_mtim.tv_nsec))
            if mtime != (entry.mtime, entry.mtimeNsec) {
                out.append("\(shown): mtime \(mtime.0).\(mtime.1) on disk, \(entry.mtime).\(entry.mtimeNsec) in the catalog")
            }
            switch entry.type {
            case .directory:
                if kind != S_IFDIR { out.append("\(shown): not a directory on disk"); continue }
                if mode != (worldReadable ? entry.mode | 0o555 : entry.mode) & 0o7777 {
                    out.append("\(shown): directory mode \(octal(mode)) on disk, \(octal(entry.mode)) in the catalog")
                }
            case .regular:
                if kind != S_IFREG { out.append("\(shown): not a regular file on disk"); continue }
                // Shared inodes lose their write bits; every file loses setuid and setgid.
                let bits = worldReadable ? entry.mode | 0o444 | (entry.mode & 0o111 != 0 ? 0o111 : 0) : entry.mode
                var allowed: Set<UInt32> = []
                if shared != false { allowed.insert(bits & 0o555) }
                if shared != true { allowed.insert(bits & 0o1777) }
                if !allowed.contains(mode) {
                    out.append("\(shown): file mode \(octal(mode)) on disk, \(octal(entry.mode)) in the catalog")
                }
                if Int64(st.st_size) != entry.size {
                    out.append("\(shown): \(st.st_size) bytes on disk, \(entry.size) in the catalog")
                } else if hashBodies, let want = entry.sha256, let have = hash(treeFd, entry.path), have != want {
                    out.append("\(shown): body \(have) on disk, \(want) in the catalog")
                }
                if entry.linkGroup != 0 {
                    let id = (UInt64(st.st_dev), UInt64(st.st_ino))
                    if let first = groups[entry.linkGroup], first != id {
                        out.append("\(shown): link group \(entry.linkGroup) is not one inode on disk")
                    }
                    groups[entry.linkGroup] = groups[entry.linkGroup] ?? id
                }
            case .symlink:
                if kind != S_IFLNK { out.append("\(shown): not a symlink on disk"); continue }
                if let target = readLink(treeFd, entry.path), target != entry.linkTarget {
                    out.append("\(shown): symlink to \(target.escapedForDisplay) on disk, \(entry.linkTarget.escapedForDisplay) in the catalog")
                }
            case .charDevice, .blockDevice, .fifo:
                break
            }
        }
        let known = Set(catalog.map(\.path))
        walk(treeFd, []) { path in
            if !known.contains(path) { out.append("\(path.escapedForDisplay): on disk but not in the catalog") }
        }
        return out
    }

    /// `differences` for a tree given by its path.
    public static func differences(tree: String, catalog: [CatalogEntry], shared: Bool? = nil,
                                   worldReadable: Bool = false, hashBodies: Bool = true) -> [String] {
        let fd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return ["cannot open the tree \(tree): errno \(errno)"] }
        defer { close(fd) }
        return differences(treeFd: fd, catalog: catalog, shared: shared, worldReadable: worldReadable, hashBodies: hashBodies)
    }

    private static let whiteoutPrefix = Array(".wh.".utf8)

    private static func octal(_ mode: UInt32) -> String { String(mode, radix: 8) }

    /// Opens the directory holding `path` (every component with O_NOFOLLOW) and calls `body` with its
    /// fd and the last component; nil when a component is missing or not a directory.
    private static func inParent<R>(_ treeFd: Int32, _ path: PathBytes, _ body: (Int32, PathBytes) -> R?) -> R? {
        let parts = path.split(separator: 0x2F, omittingEmptySubsequences: true).map { Array($0) }
        guard let last = parts.last else { return body(treeFd, Array(".".utf8)) }
        var fd = dup(treeFd)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        for part in parts.dropLast() {
            let next = cString(part) { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard next >= 0 else { return nil }
            close(fd)
            fd = next
        }
        return body(fd, last)
    }

    private static func lstat(_ treeFd: Int32, _ path: PathBytes) -> stat? {
        inParent(treeFd, path) { dir, name in
            var st = stat()
            return cString(name) { fstatat(dir, $0, &st, AT_SYMLINK_NOFOLLOW) } == 0 ? st : nil
        }
    }

    private static func readLink(_ treeFd: Int32, _ path: PathBytes) -> PathBytes? {
        inParent(treeFd, path) { dir, name in
            var buf = [UInt8](repeating: 0, count: 65_536)
            let n = cString(name) { p in buf.withUnsafeMutableBytes { readlinkat(dir, p, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) } }
            return n < 0 ? nil : Array(buf[0..<n])
        }
    }

    private static func hash(_ treeFd: Int32, _ path: PathBytes) -> Digest? {
        inParent(treeFd, path) { dir, name in
            let fd = cString(name) { openat(dir, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            let hasher = SHA256Hasher()
            var buf = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 { return nil }
                if n == 0 { break }
                buf.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
            return hasher.finalize()
        }
    }

    /// Calls `visit` with the relative path of everything below the directory `fd` (depth first).
    private static func walk(_ fd: Int32, _ prefix: PathBytes, _ visit: (PathBytes) -> Void) {
        let own = dup(fd)
        guard own >= 0, let dir = fdopendir(own) else { return }
        defer { closedir(dir) }
        var subdirs: [PathBytes] = []
        while let ent = readdir(dir) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            let path = prefix.isEmpty ? name : prefix + [0x2F] + name
            visit(path)
            if ent.pointee.d_type == UInt8(DT_DIR) { subdirs.append(name) }
        }
        for name in subdirs {
            let child = cString(name) { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard child >= 0 else { continue }
            walk(child, prefix.isEmpty ? name : prefix + [0x2F] + name, visit)
            close(child)
        }
    }

    static func cString<R>(_ bytes: PathBytes, _ body: (UnsafePointer<CChar>) -> R) -> R {
        (bytes + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
    }
}
