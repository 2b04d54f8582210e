/// A strict, streaming tar reader (ustar, POSIX pax, GNU long names and sparse files).
///
/// imgsync parses tar itself instead of through libarchive because the rules of docs/conformance.md need
/// control that libarchive does not expose: the raw typeflag (U30), errors rather than warnings for
/// malformed PAX records (U26), limits checked before any allocation (U27, U127), PAX `size`
/// precedence in both directions (U23, U24) and byte-exact names (U18). libarchive stays in the
/// test suite as an independent oracle for this reader.
public final class TarReader {
    private let input: TarInput
    let limits: LayerLimits
    private var header = [UInt8](repeating: 0, count: 512)
    /// Archive data bytes of the current entry not yet consumed (excluding padding).
    private var remaining: Int64 = 0

    var headerBytes: [UInt8] { header }
    var tarInput: TarInput { input }
    var dataRemaining: Int64 { remaining }
    func consumedFromData(_ n: Int64) { remaining -= n }
    private var padding: Int64 = 0
    private var currentSparse: [(offset: Int64, length: Int64)]?
    private var currentLogicalSize: Int64 = 0
    private var bodyConsumed = true
    private var finished = false
    /// Zero bytes the sparse entries read so far stand for without storing them.
    public private(set) var holeBytes: Int64 = 0
    /// Off only in fuzzing builds, so that mutated headers reach the code after the checksum.
    var verifiesChecksums = true
    /// Entries returned so far.
    public private(set) var entryCount = 0
    /// Name of the entry being read, for error messages.
    public private(set) var currentName: PathBytes = []

    public init(source: any ByteChunkSource, limits: LayerLimits = LayerLimits()) {
        input = TarInput(source)
        self.limits = limits
    }

    /// Decompressed bytes consumed so far.
    public var offset: Int64 { input.offset }

    /// The layer's size once expanded: the tar bytes read so far plus the holes of its sparse files.
    /// `LayerLimits.maxLayerBytes` bounds this, not just the tar stream (a sparse entry of a few
    /// hundred bytes can stand for terabytes).
    public var expandedBytes: Int64 { TarReader.saturatingSum(input.offset, holeBytes) }

    package static func saturatingSum(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int64.max : sum
    }

    private func fail(_ code: ImgsyncError.Code, _ message: String) -> ImgsyncError {
        ImgsyncError(code, message, entry: currentName.isEmpty ? nil : currentName.escapedForDisplay)
    }

    /// Returns the next entry, or nil at the end of the archive. Any unread body of the previous
    /// entry is skipped.
    public func next() throws -> TarEntry? {
        if finished { return nil }
        if !bodyConsumed { try skipBody() }
        var pax: [(key: [UInt8], value: [UInt8])] = []
        var longName: PathBytes?
        var longLink: PathBytes?
        currentName = []
        while true {
            let got = try header.withUnsafeMutableBytes { try input.read(into: $0) }
            if got == 0 {
                // End of stream on a block boundary without an end-of-archive marker (U130).
                if !pax.isEmpty || longName != nil || longLink != nil {
                    throw fail(.truncated, "archive ends after an extended header with no entry")
                }
                finished = true
                return nil
            }
            if got < 512 {
                throw fail(.truncated, "archive ends inside a tar header (\(got) of 512 bytes)")
            }
            if header.allSatisfy({ $0 == 0 }) {
                if !pax.isEmpty || longName != nil || longLink != nil {
                    throw fail(.tarFormat, "end-of-archive marker right after an extended header")
                }
                finished = true
                return nil
            }
            if verifiesChecksums { try verifyChecksum() }
            let typeflag = header[156]
            let sizeField = try numeric(124, 12, "size")
            guard sizeField >= 0 else { throw fail(.tarFormat, "negative size \(sizeField) in header") }
            switch typeflag {
            case UInt8(ascii: "x"):
                try checkExtendedSize(sizeField, "PAX extended header")
                let data = try readMeta(Int(sizeField))
                pax.append(contentsOf: try parsePax(data))
                continue
            case UInt8(ascii: "g"):
                try checkExtendedSize(sizeField, "PAX global header")
                _ = try readMeta(Int(sizeField))  // ignored, as every peer does (U28)
                continue
            case UInt8(ascii: "L"):
                try checkExtendedSize(sizeField, "GNU long name")
                longName = cString(try readMeta(Int(sizeField)))
                continue
            case UInt8(ascii: "K"):
                try checkExtendedSize(sizeField, "GNU long link name")
                longLink = cString(try readMeta(Int(sizeField)))
                continue
            default:
                break
            }
            var entry = try decodeHeader(typeflag: typeflag, sizeField: sizeField)
            if let longName { entry.name = longName }
            if let longLink { entry.linkName = longLink }
            var dataSize = sizeField
            var sparseVersion: (major: Int64, minor: Int64)?
            var sparseName: PathBytes?
            var sparseRealSize: Int64?
            var sparseMap01: [UInt8]?
            for (key, value) in pax {
                switch key {
                case Array("path".utf8):
                    if value.contains(0) { throw fail(.tarFormat, "PAX path contains a NUL byte") }
                    entry.name = value
                case Array("linkpath".utf8):
                    if value.contains(0) { throw fail(.tarFormat, "PAX linkpath contains a NUL byte") }
                    entry.linkName = value
                case Array("size".utf8):
                    guard let v = TarNumeric.parseDecimal(value[...]) else {
                        throw fail(.tarFormat, "malformed PAX size \"\(value.escapedForDisplay)\"")
                    }
                    dataSize = v
                case Array("mtime".utf8):
                    guard let (s, ns) = TarNumeric.parseTime(value[...]) else {
                        throw fail(.tarFormat, "malformed PAX mtime \"\(value.escapedForDisplay)\"")
                    }
                    entry.mtime = s
                    entry.mtimeNsec = ns
                case Array("uid".utf8), Array("gid".utf8):
                    guard let v = TarNumeric.parseDecimal(value[...]), v <= Int64(UInt32.max) else {
                        throw fail(.tarFormat, "malformed PAX \(String(decoding: key, as: UTF8.self)) \"\(value.escapedForDisplay)\"")
                    }
                    if key.first == UInt8(ascii: "u") { entry.uid = v } else { entry.gid = v }
                case Array("SCHILY.devmajor".utf8), Array("SCHILY.devminor".utf8):
                    guard let v = TarNumeric.parseDecimal(value[...]), v <= Int64(UInt32.max) else {
                        throw fail(.tarFormat, "malformed PAX device number \"\(value.escapedForDisplay)\"")
                    }
                    if key == Array("SCHILY.devmajor".utf8) { entry.devMajor = UInt32(v) } else { entry.devMinor = UInt32(v) }
                case Array("GNU.sparse.major".utf8):
                    sparseVersion = (TarNumeric.parseDecimal(value[...]) ?? -1, sparseVersion?.minor ?? 0)
                case Array("GNU.sparse.minor".utf8):
                    sparseVersion = (sparseVersion?.major ?? 0, TarNumeric.parseDecimal(value[...]) ?? -1)
                case Array("GNU.sparse.name".utf8):
                    sparseName = value
                case Array("GNU.sparse.realsize".utf8), Array("GNU.sparse.size".utf8):
                    guard let v = TarNumeric.parseDecimal(value[...]) else { throw fail(.tarFormat, "malformed GNU sparse size") }
                    sparseRealSize = v
                case Array("GNU.sparse.map".utf8):
                    if value.count > limits.maxSparseMap {
                        throw fail(.limit, "GNU sparse map of \(value.count) bytes exceeds the limit of \(limits.maxSparseMap)")
                    }
                    sparseMap01 = value
                case Array("GNU.sparse.offset".utf8), Array("GNU.sparse.numbytes".utf8):
                    throw fail(.tarFormat, "GNU sparse format 0.0 is not supported")
                default:
                    if key.starts(with: Array("SCHILY.xattr.".utf8)) {
                        entry.xattrs.append((try xattrName(Array(key.dropFirst(13)), key), value))
                    } else if key.starts(with: Array("LIBARCHIVE.xattr.".utf8)) {
                        guard let name = PercentDecoding.decode(key.dropFirst(17)),
                              let decoded = Base64.decode(value) else {
                            throw fail(.tarFormat, "malformed LIBARCHIVE.xattr record \"\(key.escapedForDisplay)\"")
                        }
                        entry.xattrs.append((try xattrName(name, key), decoded))
                    }
                }
            }
            if entry.name.contains(0) { throw fail(.tarFormat, "entry name contains a NUL byte") }
            // V7 rule: a legacy NUL typeflag with a trailing slash is a directory (U6).
            if typeflag == 0 && entry.name.last == UInt8(ascii: "/") { entry.kind = .directory }
            currentName = entry.name
            remaining = dataSize
            padding = (512 - dataSize % 512) % 512
            currentSparse = nil
            entry.size = entry.kind == .regular ? dataSize : 0
            if typeflag == UInt8(ascii: "S") {
                entry.sparse = try readOldGNUSparse()
                entry.size = try numeric(483, 12, "sparse realsize")
                guard entry.size >= 0 else { throw fail(.tarFormat, "negative GNU sparse real size \(entry.size)") }
            } else if let v = sparseVersion, entry.kind == .regular {
                if let sparseName { entry.name = sparseName; currentName = sparseName }
                guard let real = sparseRealSize else { throw fail(.tarFormat, "GNU sparse entry without a real size") }
                if v.major == 1 && v.minor == 0 {
                    entry.sparse = try readSparse10Map()
                } else if v.major == 0 && v.minor == 1, let map = sparseMap01 {
                    entry.sparse = try parseSparse01(map)
                } else {
                    throw fail(.tarFormat, "unsupported GNU sparse format \(v.major).\(v.minor)")
                }
                entry.size = real
            } else if sparseMap01 != nil, entry.kind == .regular, let real = sparseRealSize {
                entry.sparse = try parseSparse01(sparseMap01!)
                entry.size = real
            }
            if let regions = entry.sparse {
                try validateSparse(regions, realSize: entry.size)
                currentSparse = regions
                try countHoles(realSize: entry.size)
            }
            currentLogicalSize = entry.size
            bodyConsumed = false
            entryCount += 1
            if entryCount > limits.maxEntries {
                throw fail(.limit, "more than \(limits.maxEntries) entries in one layer")
            }
            return entry
        }
    }

    /// Delivers the logical body of the current regular entry (sparse holes as zeros).
    public func readBody(_ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try readBody(data: sink, hole: { try TarReader.zeroChunks($0, sink) })
    }

    /// Delivers the logical body of the current regular entry in order: stored bytes to `data`, and
    /// for each hole of a sparse entry its length to `hole` (the caller can seek instead of writing
    /// zeros). Holes are never empty.
    public func readBody(data sink: (UnsafeRawBufferPointer) throws -> Void, hole: (Int64) throws -> Void) throws {
        guard !bodyConsumed else { return }
        bodyConsumed = true
        if let regions = currentSparse {
            // `validateSparse` checked that the regions ascend inside the real size: no overflow below.
            var pos: Int64 = 0
            for r in regions {
                if r.offset > pos { try hole(r.offset - pos) }
                let got = try input.stream(r.length, sink)
                remaining -= got
                if got < r.length { throw fail(.truncated, "archive ends inside a file body") }
                pos = r.offset + r.length
            }
            if currentLogicalSize > pos { try hole(currentLogicalSize - pos) }
        } else {
            let got = try input.stream(remaining, sink)
            let wanted = remaining
            remaining -= got
            if got < wanted { throw fail(.truncated, "archive ends inside a file body (\(wanted - got) bytes missing)") }
        }
        try skipRemainder()
    }

    /// Skips whatever is left of the current entry's data and padding.
    public func skipBody() throws {
        guard !bodyConsumed else { return }
        bodyConsumed = true
        let got = try input.skip(remaining)
        if got < remaining { throw fail(.truncated, "archive ends inside an entry's data") }
        remaining = 0
        try skipRemainder()
    }

    /// Reads and discards everything after the end-of-archive marker (bytes still count for the DiffID).
    public func drain() throws { try input.drain() }

    private func skipRemainder() throws {
        if remaining > 0 {
            let got = try input.skip(remaining)
            if got < remaining { throw fail(.truncated, "archive ends inside an entry's data") }
            remaining = 0
        }
        // Missing padding at the very end is tolerated like a missing end-of-archive marker.
        _ = try input.skip(padding)
        padding = 0
    }

    private static let zeros = [UInt8](repeating: 0, count: 64 * 1024)

    /// Hands `count` zero bytes to `sink` in chunks of at most 64 KiB.
    static func zeroChunks(_ count: Int64, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var left = count
        try TarReader.zeros.withUnsafeBytes { z in
            while left > 0 {
                let n = Int(min(left, Int64(z.count)))
                try sink(UnsafeRawBufferPointer(rebasing: z[0..<n]))
                left -= Int64(n)
            }
        }
    }

    // MARK: header fields

    private func verifyChecksum() throws {
        let stored = try numeric(148, 8, "checksum")
        // One pass over the block that the compiler vectorises: the byte sum and the count of bytes
        // of 128 or more (each counts 256 less when the bytes are signed); then the checksum field
        // is counted as eight spaces instead of what it holds.
        let (sum, high) = header.withUnsafeBytes { block -> (Int64, Int64) in
            var sum: UInt32 = 0, high: UInt32 = 0
            for b in block {
                sum &+= UInt32(b)
                high &+= UInt32(b >> 7)
            }
            for b in block[148..<156] {
                sum &-= UInt32(b)
                high &-= UInt32(b >> 7)
            }
            return (Int64(sum) + 8 * 0x20, Int64(high))
        }
        let unsigned = sum
        let signed = sum - 256 * high
        if stored != unsigned && stored != signed {
            throw fail(.tarFormat, "tar header checksum mismatch (stored \(stored), computed \(unsigned)) at offset \(input.offset - 512)")
        }
    }

    private func numeric(_ at: Int, _ len: Int, _ what: String) throws -> Int64 {
        let v = header.withUnsafeBytes { TarNumeric.parse(UnsafeRawBufferPointer(rebasing: $0[at..<(at + len)])) }
        guard let v else { throw fail(.tarFormat, "malformed numeric \(what) field in tar header") }
        return v
    }

    private func field(_ at: Int, _ len: Int) -> PathBytes {
        var end = at
        while end < at + len && header[end] != 0 { end += 1 }
        return Array(header[at..<end])
    }

    private func decodeHeader(typeflag: UInt8, sizeField: Int64) throws -> TarEntry {
        let kind: TarEntryKind
        switch typeflag {
        case UInt8(ascii: "0"), 0, UInt8(ascii: "7"), UInt8(ascii: "S"): kind = .regular
        case UInt8(ascii: "1"): kind = .hardlink
        case UInt8(ascii: "2"): kind = .symlink
        case UInt8(ascii: "3"): kind = .charDevice
        case UInt8(ascii: "4"): kind = .blockDevice
        case UInt8(ascii: "5"): kind = .directory
        case UInt8(ascii: "6"): kind = .fifo
        default:
            let shown = typeflag >= 0x20 && typeflag < 0x7F ? "'\(Character(Unicode.Scalar(typeflag)))'" : "0x\(String(typeflag, radix: 16))"
            currentName = field(0, 100)
            throw fail(.tarFormat, "unsupported tar typeflag \(shown)")
        }
        var name = field(0, 100)
        let isPosix = header[257..<263].elementsEqual([0x75, 0x73, 0x74, 0x61, 0x72, 0x00])
        if isPosix && header[345] != 0 {
            name = field(345, 155) + [UInt8(ascii: "/")] + name
        }
        var e = TarEntry(kind: kind, name: name)
        currentName = name
        e.linkName = field(157, 100)
        let mode = try numeric(100, 8, "mode")
        guard mode >= 0 && mode <= 0o7777777 else { throw fail(.tarFormat, "invalid mode field") }
        e.mode = UInt32(mode) & 0o7777
        let uid = try numeric(108, 8, "uid")
        let gid = try numeric(116, 8, "gid")
        guard uid >= 0, uid <= Int64(UInt32.max), gid >= 0, gid <= Int64(UInt32.max) else {
            throw fail(.tarFormat, "uid or gid out of range (\(uid), \(gid))")
        }
        e.uid = uid
        e.gid = gid
        e.mtime = try numeric(136, 12, "mtime")
        if kind == .charDevice || kind == .blockDevice {
            let major = try numeric(329, 8, "devmajor")
            let minor = try numeric(337, 8, "devminor")
            guard major >= 0, major <= Int64(UInt32.max), minor >= 0, minor <= Int64(UInt32.max) else {
                throw fail(.tarFormat, "device number out of range (\(major):\(minor))")
            }
            e.devMajor = UInt32(major)
            e.devMinor = UInt32(minor)
        }
        return e
    }

    private func checkExtendedSize(_ size: Int64, _ what: String) throws {
        if size > Int64(limits.maxExtendedHeader) {
            throw fail(.limit, "\(what) of \(size) bytes exceeds the limit of \(limits.maxExtendedHeader) bytes")
        }
    }

    /// Reads a small metadata body (already bounded by the caller) and its padding.
    private func readMeta(_ size: Int) throws -> [UInt8] {
        var data = [UInt8](repeating: 0, count: size)
        let got = try data.withUnsafeMutableBytes { try input.read(into: $0) }
        if got < size { throw fail(.truncated, "archive ends inside an extended header") }
        let pad = Int64((512 - size % 512) % 512)
        if try input.skip(pad) < pad { throw fail(.truncated, "archive ends inside an extended header") }
        return data
    }

    /// An xattr name as the kernel will see it: a C string, so a NUL inside would apply a different
    /// name than the catalog records.
    private func xattrName(_ name: PathBytes, _ key: [UInt8]) throws -> PathBytes {
        if name.contains(0) { throw fail(.tarFormat, "xattr name in PAX record \"\(key.escapedForDisplay)\" contains a NUL byte") }
        if name.isEmpty { throw fail(.tarFormat, "empty xattr name in PAX record \"\(key.escapedForDisplay)\"") }
        return name
    }

    /// Adds the current sparse entry's holes to the layer's expanded size and enforces the limit
    /// before a byte of the body is read.
    private func countHoles(realSize: Int64) throws {
        // validateSparse: the stored regions are inside the real size, so this is not negative.
        let holes = realSize - remaining
        holeBytes = TarReader.saturatingSum(holeBytes, holes)
        let expanded = TarReader.saturatingSum(expandedBytes, remaining)
        if expanded > limits.maxLayerBytes {
            throw fail(.limit, "sparse file of real size \(realSize) takes the layer past its limit of \(limits.maxLayerBytes) expanded bytes")
        }
    }

    private func cString(_ data: [UInt8]) -> PathBytes {
        if let nul = data.firstIndex(of: 0) { return Array(data[..<nul]) }
        return data
    }

    /// Parses "LEN KEY=VALUE\n" records; any inconsistency is an error (TARmageddon, U26).
    private func parsePax(_ data: [UInt8]) throws -> [(key: [UInt8], value: [UInt8])] {
        var out: [(key: [UInt8], value: [UInt8])] = []
        var i = 0
        while i < data.count {
            if data[i] == 0 && data[i...].allSatisfy({ $0 == 0 }) { break }
            var j = i
            while j < data.count && data[j] != 0x20 { j += 1 }
            // The length counts the whole record, its own digits included, so it reaches past the space.
            guard j < data.count, let len = TarNumeric.parseDecimal(data[i..<j]), len >= Int64(j - i + 2),
                  len <= Int64(data.count - i), data[i + Int(len) - 1] == 0x0A else {
                throw fail(.tarFormat, "malformed PAX record at byte \(i) of the extended header")
            }
            let record = data[(j + 1)..<(i + Int(len) - 1)]
            guard let eq = record.firstIndex(of: 0x3D), eq > record.startIndex else {
                throw fail(.tarFormat, "PAX record without a key at byte \(i) of the extended header")
            }
            out.append((Array(record[record.startIndex..<eq]), Array(record[(eq + 1)...])))
            i += Int(len)
        }
        return out
    }
}
