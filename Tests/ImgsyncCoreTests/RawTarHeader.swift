/// A direct view of one 512-byte header in a built stream, for byte-level assertions that do not go
/// through any tar reader.
struct RawTarHeader {
    let block: ArraySlice<UInt8>
    let offset: Int

    init(_ bytes: [UInt8], at offset: Int) {
        precondition(offset + 512 <= bytes.count, "no header at \(offset)")
        self.block = bytes[offset..<(offset + 512)]
        self.offset = offset
    }

    func field(_ start: Int, _ width: Int) -> [UInt8] {
        Array(block[(offset + start)..<(offset + start + width)])
    }

    /// A NUL-terminated text field without its padding.
    func text(_ start: Int, _ width: Int) -> [UInt8] {
        Array(field(start, width).prefix { $0 != 0 })
    }

    var name: [UInt8] { text(0, 100) }
    var typeflag: UInt8 { block[offset + 156] }
    var linkName: [UInt8] { text(157, 100) }
    var magic: [UInt8] { field(257, 6) }
    var version: [UInt8] { field(263, 2) }
    var prefix: [UInt8] { text(345, 155) }

    /// An octal field (digits up to the first NUL or space).
    func octal(_ start: Int, _ width: Int) -> Int64? {
        let digits = field(start, width).prefix { $0 != 0 && $0 != 0x20 }
        guard !digits.isEmpty else { return nil }
        return Int64(String(decoding: digits, as: UTF8.self), radix: 8)
    }

    var size: Int64? { octal(124, 12) }

    /// The checksum the header should carry: the unsigned byte sum with `chksum` read as spaces.
    var expectedChecksum: Int {
        var sum = 0
        for (i, b) in block.enumerated() { sum += (148..<156).contains(i) ? 0x20 : Int(b) }
        return sum
    }

    /// Walks a well-formed stream (octal sizes only) and returns every header up to the zero block.
    static func all(in bytes: [UInt8]) -> [RawTarHeader] {
        var headers: [RawTarHeader] = []
        var offset = 0
        while offset + 512 <= bytes.count, bytes[offset..<(offset + 512)].contains(where: { $0 != 0 }) {
            let header = RawTarHeader(bytes, at: offset)
            headers.append(header)
            let size = Int(header.size ?? 0)
            offset += 512 + (size + 511) / 512 * 512
        }
        return headers
    }

    /// The `size` bytes of data after this header.
    func data(in bytes: [UInt8]) -> [UInt8] {
        Array(bytes[(offset + 512)..<(offset + 512 + Int(size ?? 0))])
    }
}
