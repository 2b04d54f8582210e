import CImgsyncZlib

/// Multi-member gzip on zlib's `inflate` (windowBits 15 + 16: gzip wrapper only), the portable engine
/// kept for comparison with ISA-L. zlib parses each header (FHCRC included) and checks CRC32 and ISIZE;
/// after `Z_STREAM_END` the stream is reset and the next byte must start another member.
public final class ZlibGzipDecompressor: Decompressor {
    private let stream: UnsafeMutablePointer<z_stream>
    /// Lets zlib report whether a member's header is complete (`done`), to tell header errors apart.
    private let header: UnsafeMutablePointer<gz_header>
    private let window: UnsafeMutableRawBufferPointer
    private var inMember = false
    /// 1-based index of the member being read (or last read).
    private var member = 0
    private var memberStart: UInt64 = 0
    /// Compressed bytes consumed so far.
    private var offset: UInt64 = 0
    private var tail = ConsumedTail()
    private var failure: ImgsyncError?

    /// - Parameter window: size of the output buffer handed to `output`, in bytes (at most 4 GiB).
    public init(window: Int = 1 << 20) {
        precondition(window > 0, "ZlibGzipDecompressor window must be positive")
        self.window = .allocate(byteCount: min(window, Int(UInt32.max)), alignment: 64)
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        header = .allocate(capacity: 1)
        header.initialize(to: gz_header())
        let rc = inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { fatalError("inflateInit2 failed with code \(rc): out of memory") }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        header.deallocate()
        window.deallocate()
    }

    public func decompress(_ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let failure { throw failure }
        do {
            var rest = input
            while !rest.isEmpty {
                if !inMember {
                    member += 1
                    memberStart = offset
                    inflateReset(stream)
                    header.initialize(to: gz_header())
                    inflateGetHeader(stream, header)
                    inMember = true
                }
                let used = try inflate(rest, output: output)
                offset += UInt64(used)
                rest = UnsafeRawBufferPointer(rebasing: rest[used...])
            }
        } catch let error as ImgsyncError {
            failure = error
            throw error
        }
    }

    public func finish(output: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let failure { throw failure }
        guard inMember else { return }
        let part = header.pointee.done != 1 ? "header" : "deflate data or 8-byte trailer"
        throw GzipMessages.truncated(member: member, memberStart: memberStart, offset: offset, inside: part)
    }

    /// Feeds `input` to zlib; returns the bytes consumed, fewer than offered when the member ends.
    private func inflate(
        _ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        let offered = min(input.count, Int(UInt32.max))
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = UInt32(offered)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
        }
        while true {
            let consumedBefore = offered - Int(stream.pointee.avail_in)
            stream.pointee.next_out = window.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = UInt32(window.count)
            let rc = CImgsyncZlib.inflate(stream, Z_NO_FLUSH)
            // zlib never hands input back, but a report from C is not trusted beyond what it was given
            // (ISA-L does hand input back, docs/architecture.md).
            guard Int(stream.pointee.avail_in) <= offered - consumedBefore else {
                throw ImgsyncError(.decompress, "gzip member \(member): zlib reported more input left than it was offered")
            }
            let consumed = offered - Int(stream.pointee.avail_in)
            let produced = window.count - Int(stream.pointee.avail_out)
            tail.append(UnsafeRawBufferPointer(rebasing: input[consumedBefore..<consumed]))
            switch rc {
            case Z_OK, Z_STREAM_END:
                break
            case Z_BUF_ERROR where stream.pointee.avail_in == 0:
                break
            default:
                throw inflateError(rc, at: offset + UInt64(consumed))
            }
            if produced > 0 { try output(UnsafeRawBufferPointer(start: window.baseAddress, count: produced)) }
            if rc == Z_STREAM_END {
                inMember = false
                return consumed
            }
            if stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0 { return consumed }
        }
    }

    private func inflateError(_ rc: Int32, at position: UInt64) -> ImgsyncError {
        let zlibMessage = stream.pointee.msg.map { String(cString: $0) } ?? "code \(rc)"
        // zlib sets `done` to 1 once a gzip header is complete and to -1 when the bytes are no gzip header.
        if rc == Z_DATA_ERROR && header.pointee.done != 1 {
            if zlibMessage == "incorrect header check" {
                return GzipMessages.notAMember(member: member, offset: memberStart, detail: "zlib: \(zlibMessage)")
            }
            return ImgsyncError(.decompress, "gzip member \(member): invalid header (zlib: \(zlibMessage))")
        }
        switch zlibMessage {
        case "incorrect data check":
            // zlib has just read the trailer's CRC32; its running CRC of the output is in `adler`.
            return GzipMessages.trailerMismatch(
                member: member, storedCRC: tail.lastWord, computedCRC: UInt32(truncatingIfNeeded: stream.pointee.adler),
                storedSize: nil, computedSize: 0)
        case "incorrect length check":
            return GzipMessages.trailerMismatch(
                member: member, storedCRC: nil, computedCRC: 0,
                storedSize: tail.lastWord, computedSize: UInt32(truncatingIfNeeded: stream.pointee.total_out))
        default:
            return ImgsyncError(
                .decompress,
                "gzip member \(member): invalid deflate data near compressed offset \(position) "
                    + "(zlib: \(zlibMessage)); the layer blob is corrupt"
            )
        }
    }
}
