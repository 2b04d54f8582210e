import Foundation

/// Read-only look at one unpacked tree, by byte paths relative to its root, never following the
/// final symlink (lstat/readlink).
struct TreeProbe {
    let root: String
    let label: String

    struct Node {
        var type: String
        var mode: Int
        var inode: UInt64
        var nlink: Int
        var mtimeNanoseconds: Int64
    }

    private func full(_ path: [UInt8]) -> [CChar] {
        (Array(root.utf8) + [0x2F] + path + [0]).map { CChar(bitPattern: $0) }
    }

    func node(_ path: String) -> Node? { node(Array(path.utf8)) }

    func node(_ path: [UInt8]) -> Node? {
        var st = stat()
        guard lstat(full(path), &st) == 0 else { return nil }
        let type: String
        switch st.st_mode & S_IFMT {
        case S_IFDIR: type = "dir"
        case S_IFREG: type = "file"
        case S_IFLNK: type = "symlink"
        default: type = "other"
        }
        return Node(type: type, mode: Int(st.st_mode & 0o7777), inode: UInt64(st.st_ino), nlink: Int(st.st_nlink),
                    mtimeNanoseconds: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
    }

    func exists(_ path: String) -> Bool { node(path) != nil }

    func type(_ path: String) -> String? { node(path)?.type }

    func contents(_ path: String) -> String? {
        guard node(path)?.type == "file" else { return nil }
        let fd = open(full(Array(path.utf8)), O_RDONLY | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    func linkTarget(_ path: String) -> [UInt8]? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(full(Array(path.utf8)), &buffer, buffer.count)
        guard n >= 0 else { return nil }
        return buffer[0..<n].map { UInt8(bitPattern: $0) }
    }

    /// The names in a directory as bytes, sorted.
    func children(_ path: String) -> [[UInt8]] {
        guard let dir = opendir(full(Array(path.utf8))) else { return [] }
        defer { closedir(dir) }
        var names: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name != [0x2E] && name != [0x2E, 0x2E] { names.append(name) }
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    func childNames(_ path: String) -> [String] { children(path).map { String(decoding: $0, as: UTF8.self) } }
}

/// One record of `imgsync catalog` (JSON Lines), keyed by its byte path.
struct CatalogRecord {
    var type: String
    var mode: Int
    var linkGroup: Int
    var mtime: Int64
    var mtimeNanoseconds: Int

    /// Parses the whole output; a malformed line is an error naming its line number.
    static func parse(_ text: String) throws -> [[UInt8]: CatalogRecord] {
        var out: [[UInt8]: CatalogRecord] = [:]
        for (n, line) in text.split(separator: "\n").enumerated() {
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let pathB64 = object["path_b64"] as? String, let path = Data(base64Encoded: pathB64),
                  let type = object["type"] as? String, let mode = object["mode"] as? Int,
                  let group = object["link_group"] as? Int, let mtime = object["mtime"] as? Int64,
                  let nsec = object["mtime_nsec"] as? Int
            else { throw CommandFailed(command: ["imgsync", "catalog"], status: 0, output: "catalog line \(n + 1) is malformed: \(line)") }
            out[Array(path)] = CatalogRecord(type: type, mode: mode, linkGroup: group, mtime: mtime, mtimeNanoseconds: nsec)
        }
        return out
    }
}
