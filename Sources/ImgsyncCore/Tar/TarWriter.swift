/// Builds a small tar archive in memory for content imgsync generates itself (the Apptainer
/// sandbox files): directories, regular files with their bodies and symlinks, all owned by 0:0.
///
/// Every header is plain ustar. When a name or link target does not fit its ustar field, or a
/// size or mtime is outside what 11 octal digits can hold, a PAX extended header carries the
/// exact value. The output depends only on the calls made, so equal inputs give equal bytes.
public struct TarWriter {
    public static let blockSize = 512
    /// The largest value an 11-digit octal field holds.
    static let maxOctal11: Int64 = 0o77777777777

    private var out: [UInt8] = []
    private var finished = false

    public init() {}

    /// A directory; a trailing `/` is added to the name when missing.
    public mutating func directory(_ path: PathBytes, mode: UInt32 = 0o755, mtime: Int64) {
        var name = path
        if name.last != 0x2F { name.append(0x2F) }
        append(name: name, typeflag: 0x35, mode: mode, mtime: mtime, linkTarget: [], body: [])
    }

    /// A regular file with its whole body.
    public mutating func file(_ path: PathBytes, _ body: [UInt8], mode: UInt32 = 0o644, mtime: Int64) {
        append(name: path, typeflag: 0x30, mode: mode, mtime: mtime, linkTarget: [], body: body)
    }

    /// A symbolic link; its target is stored verbatim.
    public mutating func symlink(_ path: PathBytes, target: PathBytes, mtime: Int64) {
        append(name: path, typeflag: 0x32, mode: 0o777, mtime: mtime, linkTarget: target, body: [])
    }

    /// The archive with its end marker (two zero blocks). No entry can be added afterwards.
    public mutating func finish() -> [UInt8] {
        precondition(!finished, "TarWriter.finish() called twice")
        finished = true
        out += [UInt8](repeating: 0, count: 2 * TarWriter.blockSize)
        return out
    }

    // MARK: encoding

    private mutating func append(name: PathBytes, typeflag: UInt8, mode: UInt32, mtime: Int64,
                                 linkTarget: PathBytes, body: [UInt8]) {
        precondition(!finished, "TarWriter: entry added after finish()")
        precondition(!name.isEmpty && !name.contains(0), "TarWriter: empty name or NUL in a name")
        precondition(!linkTarget.contains(0), "TarWriter: NUL in a link target")
        let size = Int64(body.count)
        var records: [(String, PathBytes)] = []
        if name.count > 100 { records.append(("path", name)) }
        if linkTarget.count > 100 { records.append(("linkpath", linkTarget)) }
        if size > TarWriter.maxOctal11 { records.append(("size", Array(String(size).utf8))) }
        let mtimeFits = mtime >= 0 && mtime <= TarWriter.maxOctal11
        if !mtimeFits { records.append(("mtime", Array(String(mtime).utf8))) }
        if !records.isEmpty {
            let data = records.flatMap { TarWriter.paxRecord(key: $0.0, value: $0.1) }
            let headerName = Array("PaxHeader/".utf8) + TarWriter.baseName(name).prefix(90)
            out += TarWriter.header(name: headerName, typeflag: 0x78, mode: 0o644, size: Int64(data.count),
                                    mtime: mtimeFits ? mtime : 0, linkTarget: [])
            appendPadded(data)
        }
        out += TarWriter.header(name: Array(name.prefix(100)), typeflag: typeflag, mode: mode,
                                size: size > TarWriter.maxOctal11 ? 0 : size, mtime: mtimeFits ? mtime : 0,
                                linkTarget: Array(linkTarget.prefix(100)))
        appendPadded(body)
    }

    private mutating func appendPadded(_ data: [UInt8]) {
        out += data
        let rest = data.count % TarWriter.blockSize
        if rest != 0 { out += [UInt8](repeating: 0, count: TarWriter.blockSize - rest) }
    }

    /// One ustar header block; every value must already fit its field.
    static func header(name: PathBytes, typeflag: UInt8, mode: UInt32, size: Int64, mtime: Int64,
                       linkTarget: PathBytes) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: blockSize)
        func put(_ bytes: some Collection<UInt8>, at offset: Int) {
            for (i, b) in bytes.enumerated() { h[offset + i] = b }
        }
        func octal(_ value: Int64, at offset: Int, width: Int) {
            // width - 1 zero-padded digits and a terminating NUL
            var digits = Array(String(value, radix: 8).utf8)
            precondition(digits.count <= width - 1, "tar field overflow")
            digits = [UInt8](repeating: 0x30, count: width - 1 - digits.count) + digits
            put(digits, at: offset)
        }
        put(name, at: 0)
        octal(Int64(mode & 0o7777), at: 100, width: 8)
        octal(0, at: 108, width: 8)  // uid
        octal(0, at: 116, width: 8)  // gid
        octal(size, at: 124, width: 12)
        octal(mtime, at: 136, width: 12)
        h[156] = typeflag
        put(linkTarget, at: 157)
        put("ustar\0".utf8, at: 257)
        put("00".utf8, at: 263)
        put("root".utf8, at: 265)  // uname
        put("root".utf8, at: 297)  // gname
        // The checksum is computed with its own field read as eight spaces.
        put([UInt8](repeating: 0x20, count: 8), at: 148)
        let sum = h.reduce(0) { $0 + Int64($1) }
        var digits = Array(String(sum, radix: 8).utf8)
        digits = [UInt8](repeating: 0x30, count: 6 - digits.count) + digits
        put(digits + [0, 0x20], at: 148)
        return h
    }

    /// `"<length> <key>=<value>\n"`, where the length counts the whole record including itself.
    static func paxRecord(key: String, value: PathBytes) -> [UInt8] {
        let rest = key.utf8.count + value.count + 3  // space, '=', newline
        var length = rest + String(rest).count
        if String(length).count != String(length - rest).count { length = rest + String(length).count }
        return Array("\(length) \(key)=".utf8) + value + [0x0A]
    }

    static func baseName(_ path: PathBytes) -> PathBytes {
        var trimmed = path[...]
        while trimmed.last == 0x2F { trimmed = trimmed.dropLast() }
        if let slash = trimmed.lastIndex(of: 0x2F) { return Array(trimmed[(slash + 1)...]) }
        return Array(trimmed)
    }
}
