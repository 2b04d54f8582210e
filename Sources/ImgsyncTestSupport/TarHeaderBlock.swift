/// One 512-byte tar header under construction: field offsets, numeric encodings and the checksum.
struct TarHeaderBlock {
    static let size = 512

    enum Field {
        static let name = (offset: 0, width: 100)
        static let mode = (offset: 100, width: 8)
        static let uid = (offset: 108, width: 8)
        static let gid = (offset: 116, width: 8)
        static let size = (offset: 124, width: 12)
        static let mtime = (offset: 136, width: 12)
        static let checksum = (offset: 148, width: 8)
        static let typeflag = (offset: 156, width: 1)
        static let linkName = (offset: 157, width: 100)
        static let magic = (offset: 257, width: 6)
        static let version = (offset: 263, width: 2)
        static let uname = (offset: 265, width: 32)
        static let gname = (offset: 297, width: 32)
        static let devMajor = (offset: 329, width: 8)
        static let devMinor = (offset: 337, width: 8)
        static let prefix = (offset: 345, width: 155)
    }

    static let ustarMagic: [UInt8] = Array("ustar\0".utf8)
    static let ustarVersion: [UInt8] = Array("00".utf8)
    static let gnuMagic: [UInt8] = Array("ustar ".utf8)
    static let gnuVersion: [UInt8] = [0x20, 0x00]

    private(set) var bytes = [UInt8](repeating: 0, count: size)

    /// Writes `value` at the field, truncated to its width; the rest of the field stays NUL.
    mutating func set(_ value: [UInt8], _ field: (offset: Int, width: Int)) {
        let count = min(value.count, field.width)
        guard count > 0 else { return }
        bytes.withUnsafeMutableBytes { dst in
            value.withUnsafeBytes { src in
                (dst.baseAddress! + field.offset).copyMemory(from: src.baseAddress!, byteCount: count)
            }
        }
    }

    /// Writes `value` in octal when it fits (digits + NUL), in GNU base-256 otherwise.
    mutating func setNumber(_ value: Int64, _ field: (offset: Int, width: Int)) {
        if value >= 0 && value < Self.octalLimit(width: field.width) {
            setNumber(.octal(value), field)
        } else {
            setNumber(.base256(value), field)
        }
    }

    mutating func setNumber(_ number: TarNumber, _ field: (offset: Int, width: Int)) {
        let w = field.width
        switch number {
        case .octal(let v):
            precondition(v >= 0 && v < Self.octalLimit(width: w), "\(v) does not fit \(w - 1) octal digits")
            let digits = Array(String(v, radix: 8).utf8)
            set([UInt8](repeating: 0x30, count: w - 1 - digits.count) + digits + [0], field)
        case .base256(let v):
            precondition(w >= 9 || (v >= -(1 << (8 * w - 2)) && v < 1 << (8 * w - 2)), "\(v) does not fit base-256 in \(w) bytes")
            var out = [UInt8](repeating: v < 0 ? 0xFF : 0x00, count: w)
            for i in 0..<min(8, w) { out[w - 1 - i] = UInt8(truncatingIfNeeded: v >> (8 * i)) }
            out[0] |= 0x80
            set(out, field)
        case .base256Unsigned(let v):
            precondition(w > 8, "unsigned base-256 needs a 12-byte field")
            var out = [UInt8](repeating: 0, count: w)
            for i in 0..<8 { out[w - 1 - i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
            out[0] |= 0x80
            set(out, field)
        case .raw(let raw):
            set(raw, field)
        }
    }

    /// Fills in `chksum`: the unsigned byte sum with the field read as spaces, or the override.
    mutating func finalize(checksum override: TarChecksum? = nil) {
        let field = Field.checksum
        for i in 0..<field.width { bytes[field.offset + i] = 0x20 }
        let sum = bytes.withUnsafeBufferPointer { header in
            var sum = 0
            for i in 0..<header.count { sum += Int(header[i]) }
            return sum
        }
        switch override {
        case nil: writeChecksum(sum)
        case .corrupt: writeChecksum(sum + 1)
        case .value(let v): writeChecksum(v)
        case .raw(let raw):
            for i in 0..<field.width { bytes[field.offset + i] = 0 }
            set(raw, field)
        }
    }

    private mutating func writeChecksum(_ value: Int) {
        let digits = Array(String(value & 0o777777, radix: 8).utf8)
        set([UInt8](repeating: 0x30, count: 6 - digits.count) + digits + [0x00, 0x20], Field.checksum)
    }

    static func octalLimit(width: Int) -> Int64 {
        width - 1 >= 21 ? Int64.max : Int64(1) << (3 * Int64(width - 1))
    }
}
