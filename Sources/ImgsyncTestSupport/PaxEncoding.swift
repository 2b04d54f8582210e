/// The byte encodings used inside PAX values (bsdtar's `LIBARCHIVE.xattr.*` records).
enum PaxEncoding {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let hex = Array("0123456789ABCDEF".utf8)

    /// Percent-encodes bytes outside `!`…`~`, plus `%` and `=`, as libarchive does for xattr names.
    static func urlEncode(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for b in bytes {
            if b <= 0x20 || b >= 0x7F || b == 0x25 || b == 0x3D {
                out += [0x25, hex[Int(b >> 4)], hex[Int(b & 0x0F)]]
            } else {
                out.append(b)
            }
        }
        return out
    }

    /// Standard base64 without `=` padding (libarchive writes none and reads either).
    static func base64(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var word = UInt32(bytes[i]) << 16
            if n > 1 { word |= UInt32(bytes[i + 1]) << 8 }
            if n > 2 { word |= UInt32(bytes[i + 2]) }
            for k in 0...n { out.append(alphabet[Int((word >> (18 - 6 * UInt32(k))) & 0x3F)]) }
            i += 3
        }
        return out
    }
}
