/// One `"<length> <key>=<value>\n"` record of a PAX extended header. Values are bytes, so malformed
/// values (`size=-1`, a path with a NUL) are written exactly as given.
public struct PaxRecord: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
    /// Written instead of the true record length, to craft a record whose length is wrong.
    public var declaredLength: Int?

    public init(_ key: some TarBytesConvertible, _ value: some TarBytesConvertible, declaredLength: Int? = nil) {
        self.key = key.tarBytes
        self.value = value.tarBytes
        self.declaredLength = declaredLength
    }

    /// The correct length of the encoded record, counting its own decimal digits.
    public var length: Int {
        let rest = key.count + value.count + 3  // space, '=', newline
        var length = rest + 1
        while rest + String(length).utf8.count != length { length = rest + String(length).utf8.count }
        return length
    }

    /// The encoded record.
    public var encoded: [UInt8] {
        var out = Array(String(declaredLength ?? length).utf8)
        out.append(0x20)
        out += key
        out.append(0x3D)
        out += value
        out.append(0x0A)
        return out
    }

    public static func path(_ path: some TarBytesConvertible) -> PaxRecord { PaxRecord("path", path) }

    public static func linkpath(_ target: some TarBytesConvertible) -> PaxRecord { PaxRecord("linkpath", target) }

    public static func size(_ size: Int64) -> PaxRecord { PaxRecord("size", String(size)) }

    public static func uid(_ uid: Int64) -> PaxRecord { PaxRecord("uid", String(uid)) }

    public static func gid(_ gid: Int64) -> PaxRecord { PaxRecord("gid", String(gid)) }

    /// `mtime=<seconds>[.<9-digit ns>]`; a negative time with a fraction is written as a negative decimal.
    public static func mtime(seconds: Int64, nanoseconds: Int = 0) -> PaxRecord {
        precondition((0..<1_000_000_000).contains(nanoseconds), "nanoseconds out of range")
        guard nanoseconds != 0 else { return PaxRecord("mtime", String(seconds)) }
        if seconds >= 0 { return PaxRecord("mtime", "\(seconds).\(nineDigits(nanoseconds))") }
        // seconds + ns/1e9 < 0: the magnitude is (|seconds| - 1) + (1e9 - ns)/1e9.
        return PaxRecord("mtime", "-\(-(seconds + 1)).\(nineDigits(1_000_000_000 - nanoseconds))")
    }

    /// `mtime=<text>` verbatim, e.g. "1700000000.123456789" or "1e99".
    public static func mtime(_ text: String) -> PaxRecord { PaxRecord("mtime", text) }

    /// `SCHILY.xattr.<name>=<raw value>`.
    public static func schilyXattr(_ name: some TarBytesConvertible, _ value: some TarBytesConvertible) -> PaxRecord {
        PaxRecord(Array("SCHILY.xattr.".utf8) + name.tarBytes, value)
    }

    /// `LIBARCHIVE.xattr.<url-encoded name>=<base64 value>`, encoded as bsdtar does.
    public static func libarchiveXattr(_ name: some TarBytesConvertible, _ value: some TarBytesConvertible) -> PaxRecord {
        PaxRecord(Array("LIBARCHIVE.xattr.".utf8) + PaxEncoding.urlEncode(name.tarBytes),
                  PaxEncoding.base64(value.tarBytes))
    }

    /// A `comment` record whose encoded form is exactly `totalLength` bytes (for oversized headers).
    /// Near a power of ten two lengths can be self-consistent; the declared one is always correct.
    public static func filler(totalLength: Int) -> PaxRecord {
        let valueLength = totalLength - String(totalLength).utf8.count - " comment=\n".utf8.count
        precondition(valueLength >= 0, "a filler record needs at least 12 bytes")
        return PaxRecord("comment", [UInt8](repeating: 0x61, count: valueLength), declaredLength: totalLength)
    }

    private static func nineDigits(_ n: Int) -> String {
        let s = String(n)
        return String(repeating: "0", count: 9 - s.count) + s
    }
}
