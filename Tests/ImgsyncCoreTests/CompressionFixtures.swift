import CImgsyncZlib
import Testing
import CImgsyncZstd
@testable import ImgsyncCore

/// Builds compressed inputs for `CompressionTests` with zlib and libzstd directly, never with the code
/// under test, and runs decompressors over them with chosen input splits.
enum CompressionFixtures {
    /// Deterministic test data mixing incompressible noise with repetitive text, so deflate emits dynamic
    /// Huffman blocks with long back-references as well as near-stored ones.
    static func data(count: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        var bytes = [UInt8]()
        bytes.reserveCapacity(count)
        let words = ["usr/", "lib/", "share/", "doc/", "libc.so.6", "\n", " ", "LICENSE", "0000644"].map { Array($0.utf8) }
        while bytes.count < count {
            let run = Int(rng.next() % 4096) + 1
            if rng.next() % 3 == 0 {
                for _ in 0..<run / 8 + 1 {
                    withUnsafeBytes(of: rng.next()) { bytes.append(contentsOf: $0) }
                }
            } else {
                for _ in 0..<run / 4 + 1 { bytes.append(contentsOf: words[Int(rng.next() % UInt64(words.count))]) }
            }
        }
        return Array(bytes.prefix(count))
    }

    /// Raw deflate data (no wrapper). With `flushAt`, a full flush is made after that many input bytes, so
    /// a new block starts on a byte boundary at the returned `flushOffset`.
    static func deflate(_ input: [UInt8], level: Int32 = 6, flushAt: Int? = nil) -> (data: [UInt8], flushOffset: Int?) {
        compress(input, windowBits: -15, level: level, flushAt: flushAt)
    }

    /// One gzip member written by zlib (windowBits 31: minimal 10-byte header, no optional fields).
    static func gzip(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
        compress(input, windowBits: 31, level: level, flushAt: nil).data
    }

    /// A gzip member whose header carries FEXTRA, FNAME, FCOMMENT and FHCRC, assembled by hand around
    /// zlib's raw deflate output, with a correct header CRC16 unless `corruptHeaderCRC`.
    static func gzipWithAllHeaderFields(_ input: [UInt8], corruptHeaderCRC: Bool = false) -> [UInt8] {
        var header: [UInt8] = [0x1f, 0x8b, 8, 0x02 | 0x04 | 0x08 | 0x10, 0x78, 0x56, 0x34, 0x12, 0, 3]
        let extra: [UInt8] = [0x41, 0x42, 4, 0, 0xde, 0xad, 0xbe, 0xef]  // one subfield "AB", 4 bytes
        header += [UInt8(extra.count), 0] + extra
        header += Array("layer.tar".utf8) + [0]
        header += Array("built by CompressionTests".utf8) + [0]
        var crc = crc32(of: header) & 0xffff
        if corruptHeaderCRC { crc ^= 0x0101 }
        header += [UInt8(crc & 0xff), UInt8(crc >> 8)]
        return header + deflate(input).data + trailer(crc: crc32(of: input), size: UInt32(truncatingIfNeeded: input.count))
    }

    static func trailer(crc: UInt32, size: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: crc >> (8 * $0)) } + (0..<4).map { UInt8(truncatingIfNeeded: size >> (8 * $0)) }
    }

    static func crc32(of bytes: [UInt8]) -> UInt32 {
        UInt32(CImgsyncZlib.crc32(0, bytes, UInt32(bytes.count)))
    }

    /// One zstd frame from `ZSTD_compress2`, with or without the XXH64 content checksum.
    static func zstd(_ input: [UInt8], level: Int32 = 3, checksum: Bool = true) -> [UInt8] {
        let context = ZSTD_createCCtx()!
        defer { ZSTD_freeCCtx(context) }
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, checksum ? 1 : 0)
        var out = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
        let written = out.withUnsafeMutableBytes { dst in
            input.withUnsafeBytes { src in ZSTD_compress2(context, dst.baseAddress, dst.count, src.baseAddress, src.count) }
        }
        precondition(ZSTD_isError(written) == 0, String(cString: ZSTD_getErrorName(written)))
        return Array(out.prefix(written))
    }

    /// A zstd frame written through the streaming API in small pieces, so the header has no content size
    /// and the frame holds several blocks.
    static func zstdStreamed(_ input: [UInt8], checksum: Bool = true) -> [UInt8] {
        let context = ZSTD_createCCtx()!
        defer { ZSTD_freeCCtx(context) }
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, checksum ? 1 : 0)
        var result = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        input.withUnsafeBytes { src in
            var offset = 0
            repeat {
                let piece = min(10_000, src.count - offset)
                let last = offset + piece == src.count
                var source = ZSTD_inBuffer(src: src.baseAddress.map { $0 + offset }, size: piece, pos: 0)
                var remaining = 0
                repeat {
                    buffer.withUnsafeMutableBytes { dst in
                        var sink = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                        remaining = ZSTD_compressStream2(context, &sink, &source, last ? ZSTD_e_end : ZSTD_e_continue)
                        precondition(ZSTD_isError(remaining) == 0)
                        result += dst.prefix(sink.pos)
                    }
                } while source.pos < source.size || (last && remaining != 0)
                offset += piece
            } while offset < src.count
        }
        return result
    }

    /// A skippable frame with magic 0x184D2A5`nibble` and `payload` bytes of content.
    static func skippableFrame(nibble: UInt8, payload: Int) -> [UInt8] {
        [0x50 | nibble, 0x2a, 0x4d, 0x18] + (0..<4).map { UInt8(truncatingIfNeeded: payload >> (8 * $0)) }
            + [UInt8](repeating: 0x5a, count: payload)
    }

    enum Split: CustomStringConvertible, Sendable {
        case whole, bytes, random(seed: UInt64)
        var description: String {
            switch self {
            case .whole: "whole"
            case .bytes: "1 byte at a time"
            case .random(let seed): "random chunks (seed \(seed))"
            }
        }
    }

    /// Feeds `input` split as asked, then calls `finish`, handing every output chunk to `onOutput`.
    /// Records an issue when an output chunk exceeds `window`.
    static func feed(
        _ decompressor: any Decompressor, _ input: [UInt8], split: Split, window: Int = 1 << 20,
        onOutput: (UnsafeRawBufferPointer) -> Void
    ) throws {
        func collect(_ chunk: UnsafeRawBufferPointer) {
            if chunk.count > window {
                Issue.record("an output chunk of \(chunk.count) bytes exceeds the \(window)-byte window")
            }
            onOutput(chunk)
        }
        var seed: UInt64 = 0
        if case .random(let value) = split { seed = value }
        var rng = SplitMix64(seed: seed)
        try input.withUnsafeBytes { all in
            var start = 0
            while start < all.count {
                let size: Int
                switch split {
                case .whole: size = all.count
                case .bytes: size = 1
                case .random: size = Int(rng.next() % (rng.next() % 2 == 0 ? 16 : 70_000)) + 1
                }
                let end = min(all.count, start + size)
                try decompressor.decompress(UnsafeRawBufferPointer(rebasing: all[start..<end]), output: collect)
                start = end
            }
        }
        try decompressor.finish(output: collect)
    }

    /// Feeds `input` as `feed` does and returns everything the decompressor produced.
    static func run(
        _ decompressor: any Decompressor, _ input: [UInt8], split: Split = .whole, window: Int = 1 << 20
    ) throws -> [UInt8] {
        var output = [UInt8]()
        try feed(decompressor, input, split: split, window: window) { output.append(contentsOf: $0) }
        return output
    }

    /// Runs and returns the `ImgsyncError` thrown, or nil when none was.
    static func failure(_ decompressor: any Decompressor, _ input: [UInt8], split: Split = .whole) -> ImgsyncError? {
        do {
            _ = try run(decompressor, input, split: split)
            return nil
        } catch let error as ImgsyncError {
            return error
        } catch {
            return ImgsyncError(.io, "unexpected error type: \(error)")
        }
    }

    private static func compress(
        _ input: [UInt8], windowBits: Int32, level: Int32, flushAt: Int?
    ) -> (data: [UInt8], flushOffset: Int?) {
        var stream = z_stream()
        let rc = deflateInit2_(
            &stream, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        precondition(rc == Z_OK)
        defer { deflateEnd(&stream) }
        var result = [UInt8]()
        var flushOffset: Int?
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var mutableInput = input
        mutableInput.withUnsafeMutableBufferPointer { src in
            let pieces = flushAt.map { [0..<$0, $0..<src.count] } ?? [0..<src.count]
            for (index, piece) in pieces.enumerated() {
                let flush = index == pieces.count - 1 ? Z_FINISH : Z_FULL_FLUSH
                stream.next_in = src.baseAddress.map { $0 + piece.lowerBound }
                stream.avail_in = UInt32(piece.count)
                var status = Z_OK
                repeat {
                    buffer.withUnsafeMutableBufferPointer { dst in
                        stream.next_out = dst.baseAddress
                        stream.avail_out = UInt32(dst.count)
                        status = CImgsyncZlib.deflate(&stream, flush)
                        result += dst.prefix(dst.count - Int(stream.avail_out))
                    }
                } while stream.avail_out == 0 || (flush == Z_FINISH && status != Z_STREAM_END)
                if flush == Z_FULL_FLUSH { flushOffset = result.count }
            }
        }
        return (result, flushOffset)
    }
}

/// A small deterministic generator for test data and chunk sizes.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
