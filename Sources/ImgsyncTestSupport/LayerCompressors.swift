import CImgsyncZlib
import CImgsyncZstd

/// gzip and zstd encoders for building compressed layer blobs in tests, including multi-member gzip
/// with every header flag and zstd skippable frames. Failures of the C libraries are programming
/// errors here (valid parameters, in-memory buffers), so they trap with the library's message.
public enum LayerCompressors {
    /// The canonical gzipped empty tar of the Docker/OCI ecosystem (docs/conformance.md U129): 32 bytes,
    /// sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4, decompressing to 1024
    /// zero bytes. Written by Go's gzip, so zlib cannot reproduce it; it is given as data.
    public static let canonicalEmptyGzipLayer: [UInt8] = [
        0x1F, 0x8B, 0x08, 0x00, 0x00, 0x09, 0x6E, 0x88, 0x00, 0xFF, 0x62, 0x18, 0x05, 0xA3, 0x60, 0x14,
        0x8C, 0x58, 0x00, 0x08, 0x00, 0x00, 0xFF, 0xFF, 0x2E, 0xAF, 0xB5, 0xEF, 0x00, 0x04, 0x00, 0x00,
    ]

    /// One gzip member via zlib (`windowBits` 31): zlib's minimal header, CRC32 and ISIZE trailer.
    public static func gzip(_ data: [UInt8], level: Int32 = 6) -> [UInt8] {
        deflate(data, level: level, windowBits: 31)
    }

    /// One gzip member with a header written here: FEXTRA, FNAME, FCOMMENT and FHCRC are set when
    /// the matching argument is given (FHCRC = low 16 bits of the CRC32 of the header bytes before it).
    public static func gzipMember(
        _ data: [UInt8], extra: [UInt8]? = nil, fileName: [UInt8]? = nil, comment: [UInt8]? = nil,
        headerCRC: Bool = false, mtime: UInt32 = 0, level: Int32 = 6
    ) -> [UInt8] {
        var flags: UInt8 = 0
        if headerCRC { flags |= 0x02 }
        if extra != nil { flags |= 0x04 }
        if fileName != nil { flags |= 0x08 }
        if comment != nil { flags |= 0x10 }
        // ID1 ID2 CM=deflate FLG MTIME(4) XFL OS=3 (Unix)
        var out: [UInt8] = [0x1F, 0x8B, 0x08, flags] + littleEndian(mtime) + [0x00, 0x03]
        if let extra {
            precondition(extra.count <= 0xFFFF, "FEXTRA holds at most 65535 bytes")
            out += [UInt8(extra.count & 0xFF), UInt8(extra.count >> 8)] + extra
        }
        if let fileName {
            precondition(!fileName.contains(0), "FNAME is NUL-terminated")
            out += fileName + [0]
        }
        if let comment {
            precondition(!comment.contains(0), "FCOMMENT is NUL-terminated")
            out += comment + [0]
        }
        if headerCRC {
            let crc = crc32(of: out)
            out += [UInt8(crc & 0xFF), UInt8((crc >> 8) & 0xFF)]
        }
        out += deflate(data, level: level, windowBits: -15)
        out += littleEndian(crc32(of: data))
        out += littleEndian(UInt32(truncatingIfNeeded: data.count))
        return out
    }

    /// One zstd frame (`ZSTD_compress2`), with a content checksum unless `checksum` is false.
    public static func zstd(_ data: [UInt8], level: Int32 = 3, checksum: Bool = true) -> [UInt8] {
        guard let cctx = ZSTD_createCCtx() else { preconditionFailure("ZSTD_createCCtx failed") }
        defer { ZSTD_freeCCtx(cctx) }
        checkZstd(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level))
        checkZstd(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, checksum ? 1 : 0))
        var out = [UInt8](repeating: 0, count: ZSTD_compressBound(data.count))
        let written = out.withUnsafeMutableBytes { dst in
            data.withUnsafeBytes { src in
                ZSTD_compress2(cctx, dst.baseAddress, dst.count, src.baseAddress, src.count)
            }
        }
        checkZstd(written)
        out.removeSubrange(written...)
        return out
    }

    /// A zstd skippable frame: magic `0x184D2A50 + magicNibble`, a 4-byte size, then `payloadSize`
    /// bytes counting up from 0 (not zeros, so a reader that fails to skip them sees garbage).
    public static func zstdSkippableFrame(payloadSize: Int, magicNibble: UInt8 = 0) -> [UInt8] {
        precondition(magicNibble < 16 && payloadSize >= 0 && payloadSize <= Int(UInt32.max), "invalid skippable frame")
        return littleEndian(0x184D_2A50 + UInt32(magicNibble)) + littleEndian(UInt32(payloadSize))
            + (0..<payloadSize).map { UInt8(truncatingIfNeeded: $0) }
    }

    /// zlib's CRC32 of `data`.
    public static func crc32(of data: [UInt8]) -> UInt32 {
        var crc: uLong = CImgsyncZlib.crc32(0, nil, 0)
        data.withUnsafeBufferPointer { buf in
            var offset = 0
            while offset < buf.count {
                let n = min(buf.count - offset, 1 << 30)
                crc = CImgsyncZlib.crc32(crc, buf.baseAddress! + offset, uInt(n))
                offset += n
            }
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    private static func deflate(_ data: [UInt8], level: Int32, windowBits: Int32) -> [UInt8] {
        var stream = z_stream()
        let initStatus = deflateInit2_(&stream, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY,
                                       zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        precondition(initStatus == Z_OK, "deflateInit2 failed: \(initStatus)")
        defer { deflateEnd(&stream) }

        var out: [UInt8] = []
        out.reserveCapacity(data.count / 2 + 64)
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        data.withUnsafeBufferPointer { input in
            var offset = 0
            var status = Z_OK
            repeat {
                let n = min(input.count - offset, 1 << 30)
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress.map { $0 + offset })
                stream.avail_in = uInt(n)
                offset += n
                let flush = offset == input.count ? Z_FINISH : Z_NO_FLUSH
                repeat {
                    chunk.withUnsafeMutableBufferPointer { buf in
                        stream.next_out = buf.baseAddress
                        stream.avail_out = uInt(buf.count)
                        status = CImgsyncZlib.deflate(&stream, flush)
                        precondition(status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR,
                                     "deflate failed: \(status)")
                    }
                    out += chunk[..<(chunk.count - Int(stream.avail_out))]
                } while stream.avail_out == 0
            } while status != Z_STREAM_END
        }
        return out
    }

    private static func checkZstd(_ code: Int) {
        precondition(ZSTD_isError(code) == 0, "zstd: " + String(cString: ZSTD_getErrorName(code)))
    }

    private static func littleEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
    }
}
