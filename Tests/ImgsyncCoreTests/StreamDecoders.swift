import CImgsyncZlib
import CImgsyncZstd

/// Reference decoders for checking `LayerCompressors`: zlib `inflate` over every gzip member (it
/// verifies FHCRC, CRC32 and ISIZE) and zstd's streaming decoder (it skips skippable frames and checks
/// content checksums).
enum StreamDecoders {
    struct DecodeError: Error, CustomStringConvertible {
        var description: String
    }

    static func gunzip(_ input: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, 31, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DecodeError(description: "inflateInit2 failed")
        }
        defer { inflateEnd(&stream) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        try input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = uInt(inBuf.count)
            while true {
                var status: Int32 = Z_OK
                chunk.withUnsafeMutableBufferPointer { buf in
                    stream.next_out = buf.baseAddress
                    stream.avail_out = uInt(buf.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                }
                out += chunk[..<(chunk.count - Int(stream.avail_out))]
                switch status {
                case Z_OK: if stream.avail_in == 0 && stream.avail_out != 0 { throw DecodeError(description: "truncated gzip") }
                case Z_STREAM_END:
                    if stream.avail_in == 0 { return }
                    inflateReset(&stream)  // the next member
                default:
                    throw DecodeError(description: stream.msg.map { String(cString: $0) } ?? "inflate status \(status)")
                }
            }
        }
        return out
    }

    static func unzstd(_ input: [UInt8]) throws -> [UInt8] {
        guard let dctx = ZSTD_createDCtx() else { throw DecodeError(description: "ZSTD_createDCtx failed") }
        defer { ZSTD_freeDCtx(dctx) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: ZSTD_DStreamOutSize())
        var lastHint = 0
        try input.withUnsafeBytes { src in
            var inBuffer = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
            while true {
                let produced = try chunk.withUnsafeMutableBytes { dst in
                    var outBuffer = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                    let hint = ZSTD_decompressStream(dctx, &outBuffer, &inBuffer)
                    if ZSTD_isError(hint) != 0 { throw DecodeError(description: String(cString: ZSTD_getErrorName(hint))) }
                    lastHint = hint
                    return outBuffer.pos
                }
                out += chunk[..<produced]
                if inBuffer.pos == inBuffer.size && produced < chunk.count { break }
            }
        }
        if lastHint != 0 { throw DecodeError(description: "truncated zstd frame") }
        return out
    }
}
