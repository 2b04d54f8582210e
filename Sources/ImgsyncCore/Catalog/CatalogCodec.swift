import CImgsyncZstd

/// The catalog file format (docs/catalog-format.md): a magic line, the records as one zstd frame, and a
/// trailing SHA-256 of everything before it so that a damaged catalog is detected, never trusted.
/// Versions 1 (the records uncompressed) and 2 (no canonical-object hints) are still read, so
/// repositories written before version 3 keep working; every catalog written is version 3.
public enum CatalogCodec {
    static let magicV1: [UInt8] = Array("IMGSYNC-CATALOG 1\n".utf8)
    static let magicV2: [UInt8] = Array("IMGSYNC-CATALOG 2\n".utf8)
    static let magic: [UInt8] = Array("IMGSYNC-CATALOG 3\n".utf8)
    /// The flags byte of a version-3 record: bit 0 `implied`, bit 1 `canonicalObject`.
    static let impliedFlag: UInt8 = 1, canonicalObjectFlag: UInt8 = 2
    /// zstd level for catalogs: level 1 already takes the shared path prefixes; the SHA-256 of each
    /// body (32 random bytes a file) is what remains, which no level touches. On a chain catalog of
    /// the Debian minbase (7,800 paths, 900 KB of records): level 1 compresses at 580 MB/s to
    /// 270.5 KB, level 3 at 325 MB/s to 268.9 KB (0.6 % smaller, 1.3 ms more for each of the
    /// three catalogs a new tag writes).
    static let level: Int32 = 1
    /// Records are serialised into a buffer of this size and compressed a buffer at a time, so encoding
    /// never holds the uncompressed catalog (about 110 bytes a path) beside the compressed one.
    static let chunk = 1 << 20
    /// The largest uncompressed record stream a catalog may declare (a sanity bound; 2^36 bytes is
    /// hundreds of millions of paths).
    static let maxRecordBytes: UInt64 = 1 << 36

    public static func encode(_ entries: [CatalogEntry]) -> [UInt8] {
        var encoder = Encoder()
        for e in entries { encoder.add(e) }
        return encoder.finish()
    }

    /// Writes a catalog one entry at a time, so a tree's catalog is never held as a list of entries
    /// or as uncompressed bytes. With a file (`init(file:)`), the compressed bytes go to it a chunk
    /// at a time too, so what a catalog of any size holds is two chunks; without one they are kept
    /// for `finish()`.
    public struct Encoder {
        private var frame = FrameWriter()
        /// Compressed bytes not yet written (all of them without a file).
        private var out = CatalogCodec.magic + [UInt8](repeating: 0, count: 16)
        private var buffer: [UInt8] = []
        public private(set) var count: UInt64 = 0
        private var recordBytes: UInt64 = 0
        private let fd: Int32?
        /// The first failed write to `fd` (nothing more is written after it; `finishFile` throws it).
        private var failure: ImgsyncError?

        public init() {
            fd = nil
            buffer.reserveCapacity(CatalogCodec.chunk + 4096)
        }

        /// Writes to `fd`, an empty file opened for reading and writing.
        public init(file fd: Int32) {
            self.fd = fd
            buffer.reserveCapacity(CatalogCodec.chunk + 4096)
        }

        public mutating func add(_ e: CatalogEntry) {
            let before = buffer.count
            CatalogCodec.append(e, to: &buffer)
            count += 1
            recordBytes += UInt64(buffer.count - before)
            if buffer.count >= CatalogCodec.chunk {
                frame.compress(buffer, into: &out, end: false)
                buffer.removeAll(keepingCapacity: true)
                if fd != nil && out.count >= CatalogCodec.chunk { flush() }
            }
        }

        private mutating func flush() {
            guard let fd, failure == nil else { return }
            do {
                try out.withUnsafeBytes { try Syscall.writeAll(fd, $0) }
            } catch let e as ImgsyncError {
                failure = e
            } catch {
                failure = ImgsyncError(.io, "\(error)")
            }
            out.removeAll(keepingCapacity: true)
        }

        /// The header's counts, at their place after the magic.
        private func putHeader(into bytes: inout [UInt8]) {
            let header = CatalogCodec.magic.count
            withUnsafeBytes(of: count.littleEndian) { bytes.replaceSubrange(header..<(header + 8), with: $0) }
            withUnsafeBytes(of: recordBytes.littleEndian) { bytes.replaceSubrange((header + 8)..<(header + 16), with: $0) }
        }

        /// The whole file: header, frame, checksum (an encoder without a file).
        public consuming func finish() -> [UInt8] {
            precondition(fd == nil, "finish() of a catalog encoder that writes to a file")
            frame.compress(buffer, into: &out, end: true)
            buffer = []
            var bytes = out
            out = []
            putHeader(into: &bytes)
            SHA256Hasher.hash(bytes).withUnsafeBytes { bytes += $0 }
            return bytes
        }

        /// Ends the frame, writes the header's counts and appends the checksum (read back from the
        /// file: the counts it covers are known only now). Throws the first failed write or read.
        public consuming func finishFile() throws {
            guard let fd else { preconditionFailure("finishFile() of a catalog encoder without a file") }
            frame.compress(buffer, into: &out, end: true)
            buffer = []
            flush()
            if let failure { throw failure }
            var header = CatalogCodec.magic + [UInt8](repeating: 0, count: 16)
            putHeader(into: &header)
            try header.withUnsafeBytes { try Syscall.writeAll(fd, $0, at: 0) }
            let hasher = SHA256Hasher()
            var offset: Int64 = 0
            var chunk = [UInt8](repeating: 0, count: CatalogCodec.chunk)
            while true {
                let n = try chunk.withUnsafeMutableBytes { try Syscall.read(fd, $0, at: offset) }
                if n == 0 { break }
                chunk.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                offset += Int64(n)
            }
            try hasher.finalize().withUnsafeBytes { try Syscall.writeAll(fd, $0, at: offset) }
        }
    }

    static func append(_ e: CatalogEntry, to out: inout [UInt8]) {
        put(&out, UInt32(e.path.count)); out += e.path
        out.append(e.type.rawValue)
        out.append((e.implied ? impliedFlag : 0) | (e.canonicalObject && e.type == .regular ? canonicalObjectFlag : 0))
        put(&out, e.mode); put(&out, e.uid); put(&out, e.gid)
        put(&out, UInt64(bitPattern: e.mtime)); put(&out, e.mtimeNsec)
        put(&out, UInt64(bitPattern: e.size))
        if let d = e.sha256 { out.append(1); d.withUnsafeBytes { out += $0 } } else { out.append(0) }
        put(&out, UInt32(e.linkTarget.count)); out += e.linkTarget
        put(&out, e.linkGroup)
        put(&out, e.devMajor); put(&out, e.devMinor)
        put(&out, UInt32(e.xattrs.count))
        for x in e.xattrs {
            put(&out, UInt32(x.name.count)); out += x.name
            put(&out, UInt32(x.value.count)); out += x.value
        }
    }

    /// The version-1 layout (records uncompressed), for tests of the reader's backward compatibility.
    static func encodeVersion1(_ entries: [CatalogEntry]) -> [UInt8] {
        var out = magicV1
        put(&out, UInt64(entries.count))
        for var e in entries {
            e.canonicalObject = false
            append(e, to: &out)
        }
        SHA256Hasher.hash(out).withUnsafeBytes { out += $0 }
        return out
    }

    /// The version-2 layout (no canonical-object hints: the flags byte is `implied` alone), for tests
    /// of the reader's backward compatibility.
    static func encodeVersion2(_ entries: [CatalogEntry]) -> [UInt8] {
        var bytes = encode(entries.map { var e = $0; e.canonicalObject = false; return e })
        bytes.replaceSubrange(0..<magicV2.count, with: magicV2)
        bytes.removeLast(32)
        SHA256Hasher.hash(bytes).withUnsafeBytes { bytes += $0 }
        return bytes
    }

    public static func decode(_ data: [UInt8]) throws -> [CatalogEntry] {
        let version: Int
        if data.count >= magic.count + 32, data[0..<magic.count].elementsEqual(magic) {
            version = 3
        } else if data.count >= magicV2.count + 32, data[0..<magicV2.count].elementsEqual(magicV2) {
            version = 2
        } else if data.count >= magicV1.count + 8 + 32, data[0..<magicV1.count].elementsEqual(magicV1) {
            version = 1
        } else {
            throw ImgsyncError(.catalog, "not an imgsync catalog (bad magic)")
        }
        let body = data.count - 32
        let sum = data.withUnsafeBytes { SHA256Hasher.hash(UnsafeRawBufferPointer(rebasing: $0[0..<body])) }
        guard sum.bytes.elementsEqual(data[body...]) else {
            throw ImgsyncError(.catalog, "catalog checksum mismatch: the file is damaged")
        }
        if version == 1 {
            var r = Reader(data: data, pos: magicV1.count, end: body)
            return try records(&r, count: try r.u64(), hints: false)
        }
        guard body >= magic.count + 16 else { throw ImgsyncError(.catalog, "truncated catalog") }
        var header = Reader(data: data, pos: magic.count, end: magic.count + 16)
        let count = try header.u64()
        let size = try header.u64()
        let records = try data.withUnsafeBytes { try decompress(UnsafeRawBufferPointer(rebasing: $0[(magic.count + 16)..<body]), size: size) }
        var r = Reader(data: records, pos: 0, end: records.count)
        return try Self.records(&r, count: count, hints: version >= 3)
    }

    /// `hints`: the byte after the type is version 3's flags, else (versions 1 and 2) `implied`.
    private static func records(_ r: inout Reader, count: UInt64, hints: Bool) throws -> [CatalogEntry] {
        var out: [CatalogEntry] = []
        out.reserveCapacity(Int(min(count, 10_000_000)))
        for _ in 0..<count {
            let path = try r.bytes(Int(try r.u32()))
            guard let type = CatalogEntryType(rawValue: try r.u8()) else { throw ImgsyncError(.catalog, "unknown entry type in catalog") }
            let flags = try r.u8()
            var e = CatalogEntry(path: path, type: type)
            if hints {
                guard flags & ~(impliedFlag | canonicalObjectFlag) == 0 else {
                    throw ImgsyncError(.catalog, "catalog entry \(path.escapedForDisplay) has unknown flags \(flags)")
                }
                e.implied = flags & impliedFlag != 0
                e.canonicalObject = flags & canonicalObjectFlag != 0 && type == .regular
            } else {
                e.implied = flags != 0
            }
            e.mode = try r.u32(); e.uid = try r.u32(); e.gid = try r.u32()
            e.mtime = Int64(bitPattern: try r.u64()); e.mtimeNsec = try r.u32()
            guard e.mtimeNsec < 1_000_000_000 else {
                throw ImgsyncError(.catalog, "catalog entry \(path.escapedForDisplay) has \(e.mtimeNsec) nanoseconds (at most 999,999,999)")
            }
            e.size = Int64(bitPattern: try r.u64())
            if try r.u8() == 1 { e.sha256 = Digest(sha256: try r.bytes(32)) }
            e.linkTarget = try r.bytes(Int(try r.u32()))
            e.linkGroup = try r.u64()
            e.devMajor = try r.u32(); e.devMinor = try r.u32()
            let nx = try r.u32()
            for _ in 0..<nx {
                let name = try r.bytes(Int(try r.u32()))
                let value = try r.bytes(Int(try r.u32()))
                e.xattrs.append(Xattr(name: name, value: value))
            }
            out.append(e)
        }
        guard r.pos == r.end else { throw ImgsyncError(.catalog, "trailing bytes in catalog") }
        return out
    }

    /// The record stream of a version-2 catalog: exactly one zstd frame of exactly `size` bytes.
    private static func decompress(_ frame: UnsafeRawBufferPointer, size declared: UInt64) throws -> [UInt8] {
        guard declared <= maxRecordBytes else {
            throw ImgsyncError(.catalog, "catalog declares \(declared) bytes of records, more than a catalog may hold")
        }
        let compressedSize = ZSTD_findFrameCompressedSize(frame.baseAddress, frame.count)
        guard ZSTD_isError(compressedSize) == 0, compressedSize == frame.count else {
            throw ImgsyncError(.catalog, "catalog records are not exactly one zstd frame")
        }
        let size = Int(declared)
        var failure: Int = 0
        // One byte more than declared, so a frame holding more than its header says is caught.
        let out = [UInt8](unsafeUninitializedCapacity: size + 1) { buffer, count in
            let n = ZSTD_decompress(buffer.baseAddress, size + 1, frame.baseAddress, frame.count)
            if ZSTD_isError(n) != 0 || n != size { failure = ZSTD_isError(n) != 0 ? n : -1; count = 0 } else { count = n }
        }
        guard failure == 0 else {
            let why = failure == -1 ? "not the \(size) bytes the header declares" : String(cString: ZSTD_getErrorName(failure))
            throw ImgsyncError(.catalog, "catalog records do not decompress (\(why))")
        }
        return out
    }

    /// A zstd frame written a buffer at a time (`ZSTD_compressStream2`).
    final class FrameWriter {
        let context: OpaquePointer
        var scratch: [UInt8]

        deinit { ZSTD_freeCCtx(context) }

        init() {
            guard let context = ZSTD_createCCtx() else { fatalError("ZSTD_createCCtx failed: out of memory") }
            self.context = context
            ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, CatalogCodec.level)
            scratch = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        }

        /// Compresses `input` and appends the output to `out`; `end` ends the frame.
        func compress(_ input: [UInt8], into out: inout [UInt8], end: Bool) {
            let context = self.context
            input.withUnsafeBytes { src in
                var source = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
                while true {
                    let (left, produced) = scratch.withUnsafeMutableBytes { dst -> (Int, Int) in
                        var sink = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                        let left = ZSTD_compressStream2(context, &sink, &source, end ? ZSTD_e_end : ZSTD_e_continue)
                        return (left, sink.pos)
                    }
                    // Only a broken invariant fails here (no memory): the input is ours.
                    precondition(ZSTD_isError(left) == 0, "catalog zstd: \(String(cString: ZSTD_getErrorName(left)))")
                    out += scratch[0..<produced]
                    if end ? left == 0 : source.pos == source.size { break }
                }
            }
        }
    }

    private static func put(_ out: inout [UInt8], _ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { out += $0 }
    }

    private static func put(_ out: inout [UInt8], _ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { out += $0 }
    }

    private struct Reader {
        let data: [UInt8]
        var pos: Int
        let end: Int

        mutating func u8() throws -> UInt8 {
            guard pos < end else { throw ImgsyncError(.catalog, "truncated catalog") }
            defer { pos += 1 }
            return data[pos]
        }

        mutating func u32() throws -> UInt32 {
            guard pos + 4 <= end else { throw ImgsyncError(.catalog, "truncated catalog") }
            var v: UInt32 = 0
            for i in 0..<4 { v |= UInt32(data[pos + i]) << (8 * UInt32(i)) }
            pos += 4
            return v
        }

        mutating func u64() throws -> UInt64 {
            guard pos + 8 <= end else { throw ImgsyncError(.catalog, "truncated catalog") }
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(data[pos + i]) << (8 * UInt64(i)) }
            pos += 8
            return v
        }

        mutating func bytes(_ n: Int) throws -> [UInt8] {
            guard n >= 0, pos + n <= end else { throw ImgsyncError(.catalog, "truncated catalog") }
            defer { pos += n }
            return Array(data[pos..<(pos + n)])
        }
    }
}
