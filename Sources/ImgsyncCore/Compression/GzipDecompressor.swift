import CImgsyncISAL

/// Multi-member gzip (RFC 1952) on ISA-L's `isal_inflate`, the fast path. Member headers are parsed by
/// `GzipHeaderParser`; ISA-L inflates each member's deflate data with `ISAL_GZIP_NO_HDR_VER`, which also
/// reads the 8-byte trailer and verifies CRC32 and ISIZE and stops exactly after it, so the next member's
/// header starts at the next unread byte. Output goes through one reusable window.
public final class GzipDecompressor: Decompressor {
    private enum Phase { case betweenMembers, header, body }

    private let state: UnsafeMutablePointer<inflate_state>
    private let window: UnsafeMutableRawBufferPointer
    private var phase = Phase.betweenMembers
    private var header = GzipHeaderParser()
    /// 1-based index of the member being read (or last read).
    private var member = 0
    private var memberStart: UInt64 = 0
    /// Compressed bytes consumed so far.
    private var offset: UInt64 = 0
    private var tail = ConsumedTail()
    private var failure: ImgsyncError?

    /// - Parameter window: size of the output buffer handed to `output`, in bytes (at most 4 GiB).
    public init(window: Int = 1 << 20) {
        precondition(window > 0, "GzipDecompressor window must be positive")
        self.window = .allocate(byteCount: min(window, Int(UInt32.max)), alignment: 64)
        let size = MemoryLayout<inflate_state>.size
        let raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryLayout<inflate_state>.alignment)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        state = raw.bindMemory(to: inflate_state.self, capacity: 1)
        isal_inflate_init(state)
    }

    deinit {
        state.deallocate()
        window.deallocate()
    }

    public func decompress(_ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let failure { throw failure }
        do {
            var rest = input
            while !rest.isEmpty {
                let used: Int
                switch phase {
                case .betweenMembers:
                    member += 1
                    memberStart = offset
                    header = GzipHeaderParser()
                    phase = .header
                    continue
                case .header:
                    used = try header.consume(rest, member: member, offset: memberStart)
                    if header.isComplete {
                        isal_inflate_reset(state)
                        state.pointee.crc_flag = UInt32(ISAL_GZIP_NO_HDR_VER)
                        phase = .body
                    }
                case .body:
                    used = try inflate(rest, output: output)
                }
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
        switch phase {
        case .betweenMembers:
            return
        case .header:
            throw GzipMessages.truncated(member: member, memberStart: memberStart, offset: offset, inside: "header")
        case .body:
            let blockState = state.pointee.block_state
            let part = blockState == ISAL_BLOCK_INPUT_DONE || blockState == ISAL_CHECKSUM_CHECK
                ? "8-byte trailer" : "deflate data"
            throw GzipMessages.truncated(member: member, memberStart: memberStart, offset: offset, inside: part)
        }
    }

    /// Feeds deflate data (and the trailer) to ISA-L; returns the bytes consumed, fewer than offered when
    /// the member ends.
    private func inflate(
        _ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        let offered = min(input.count, Int(UInt32.max))
        state.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: UInt8.self))
        state.pointee.avail_in = UInt32(offered)
        defer {
            state.pointee.next_in = nil
            state.pointee.avail_in = 0
        }
        var consumed = 0
        while true {
            let consumedBefore = consumed
            state.pointee.next_out = window.baseAddress!.assumingMemoryBound(to: UInt8.self)
            state.pointee.avail_out = UInt32(window.count)
            let rc = isal_inflate(state)
            let produced = window.count - Int(state.pointee.avail_out)
            // When it stops, isal_inflate gives back the whole bytes left in its bit buffer by adding
            // them to avail_in. They may have come from an earlier call of this loop (consumed goes
            // down) or, on a corrupt stream, from an earlier input buffer: then avail_in exceeds what
            // this call offered, bytes that are gone, and the stream cannot go on.
            let left = Int(state.pointee.avail_in)
            if left <= offered { consumed = offered - left }
            if consumed > consumedBefore {
                tail.append(UnsafeRawBufferPointer(rebasing: input[consumedBefore..<consumed]))
            }
            if rc != ISAL_DECOMP_OK && rc != ISAL_END_INPUT {
                throw inflateError(rc, at: offset + UInt64(consumed))
            }
            guard left <= offered else {
                throw ImgsyncError(
                    .decompress,
                    "gzip member \(member): isal_inflate gave back \(left - offered) bytes more than it was "
                        + "offered near compressed offset \(offset); the layer blob is corrupt"
                )
            }
            if produced > 0 { try output(UnsafeRawBufferPointer(start: window.baseAddress, count: produced)) }
            if state.pointee.block_state == ISAL_BLOCK_FINISH {
                phase = .betweenMembers
                return consumed
            }
            if state.pointee.avail_in == 0 && state.pointee.avail_out > 0 { return consumed }
            if consumed <= consumedBefore && produced == 0 {
                throw ImgsyncError(
                    .decompress,
                    "gzip member \(member): isal_inflate made no progress at compressed offset "
                        + "\(offset + UInt64(consumed)) (block state \(state.pointee.block_state.rawValue))"
                )
            }
        }
    }

    private func inflateError(_ rc: Int32, at position: UInt64) -> ImgsyncError {
        let what: String
        switch rc {
        case ISAL_INCORRECT_CHECKSUM:
            return GzipMessages.trailerMismatch(
                member: member, storedCRC: tail.previousWord, computedCRC: state.pointee.crc,
                storedSize: tail.lastWord, computedSize: state.pointee.total_out)
        case ISAL_INVALID_BLOCK: what = "invalid deflate block"
        case ISAL_INVALID_SYMBOL: what = "invalid deflate symbol"
        case ISAL_INVALID_LOOKBACK: what = "deflate back-reference reaches before the start of the data"
        default: what = "isal_inflate failed with code \(rc)"
        }
        return ImgsyncError(
            .decompress, "gzip member \(member): \(what) near compressed offset \(position); the layer blob is corrupt")
    }
}
