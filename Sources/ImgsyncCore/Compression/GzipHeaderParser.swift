import CImgsyncZlib

/// Incremental parser for one RFC 1952 member header, fed the input split anywhere. Checks the magic
/// bytes, the method, the reserved flag bits and, with FHCRC, the header CRC16; skips FEXTRA, FNAME
/// and FCOMMENT without buffering them. ISA-L 2.30 miscomputes FHCRC when a header arrives in pieces,
/// which is why the ISA-L engine parses headers here and hands ISA-L only the deflate data.
struct GzipHeaderParser {
    private enum Stage { case fixed, extraLength, extra, name, comment, headerCRC, done }

    /// Bounds one bulk step so its length fits zlib's 32-bit `crc32` length.
    private static let maxStep = 1 << 30
    /// The optional fields in the order they appear, each with the FLG bit that announces it.
    private static let optionalFields: [(Stage, UInt8)] = [
        (.extraLength, 0x04), (.name, 0x08), (.comment, 0x10), (.headerCRC, 0x02),
    ]

    private var stage = Stage.fixed
    /// Byte index inside a fixed-size stage (the 10-byte prefix, XLEN, CRC16).
    private var index = 0
    private var flags: UInt8 = 0
    private var extraRemaining = 0
    private var storedCRC: UInt32 = 0
    private var crc: UInt = 0

    var isComplete: Bool { stage == .done }

    /// Consumes header bytes from the front of `bytes` and returns how many; stops at the header's end.
    /// `member` (1-based) and `offset` (where this member starts in the blob) only shape error messages.
    mutating func consume(_ bytes: UnsafeRawBufferPointer, member: Int, offset: UInt64) throws -> Int {
        var position = 0
        while position < bytes.count, stage != .done {
            let stepStart = position
            let stepStage = stage
            switch stage {
            case .fixed:
                try fixedByte(bytes[position], member: member, offset: offset)
                position += 1
            case .extraLength:
                extraRemaining |= Int(bytes[position]) << (8 * index)
                position += 1
                index += 1
                if index == 2 { advance(from: .extraLength) }
            case .extra:
                let step = min(extraRemaining, bytes.count - position, Self.maxStep)
                position += step
                extraRemaining -= step
                if extraRemaining == 0 { advance(from: .extra) }
            case .name, .comment:
                let end = min(bytes.count, position + Self.maxStep)
                if let zero = bytes[position..<end].firstIndex(of: 0) {
                    position = zero + 1
                    advance(from: stage)
                } else {
                    position = end
                }
            case .headerCRC:
                storedCRC |= UInt32(bytes[position]) << (8 * index)
                position += 1
                index += 1
                if index == 2 {
                    let computed = UInt32(truncatingIfNeeded: crc) & 0xffff
                    guard storedCRC == computed else {
                        throw ImgsyncError(
                            .decompress,
                            "gzip member \(member): header CRC16 mismatch "
                                + "(stored \(GzipMessages.hex(storedCRC, digits: 4)), "
                                + "computed \(GzipMessages.hex(computed, digits: 4)))"
                        )
                    }
                    stage = .done
                }
            case .done:
                break
            }
            // FHCRC covers every header byte before the CRC16 itself.
            if stepStage != .headerCRC {
                crc = crc32(crc, (bytes.baseAddress! + stepStart).assumingMemoryBound(to: UInt8.self),
                            UInt32(position - stepStart))
            }
        }
        return position
    }

    private mutating func fixedByte(_ byte: UInt8, member: Int, offset: UInt64) throws {
        switch index {
        case 0 where byte != 0x1f, 1 where byte != 0x8b:
            let found = index == 0 ? GzipMessages.bytes([byte]) : "1f " + GzipMessages.bytes([byte])
            throw GzipMessages.notAMember(member: member, offset: offset, detail: "found \(found)")
        case 2 where byte != 8:
            throw ImgsyncError(
                .decompress, "gzip member \(member): unsupported compression method \(byte) (only 8, deflate, exists)")
        case 3 where byte & 0xe0 != 0:
            throw ImgsyncError(
                .decompress,
                "gzip member \(member): reserved header flag bits are set (FLG 0x\(String(byte, radix: 16)))")
        case 3:
            flags = byte
        default:
            break
        }
        index += 1
        if index == 10 { advance(from: .fixed) }
    }

    /// Moves to the next optional field the flags ask for.
    private mutating func advance(from finished: Stage) {
        index = 0
        let start: Int
        switch finished {
        case .fixed: start = 0
        case .extraLength:
            if extraRemaining > 0 {
                stage = .extra
                return
            }
            start = 1
        case .extra: start = 1
        case .name: start = 2
        case .comment: start = 3
        case .headerCRC, .done: start = 4
        }
        stage = Self.optionalFields[start...].first { flags & $0.1 != 0 }?.0 ?? .done
    }
}
