/// A SHA-256 content digest. Parsing is strict (descriptor grammar: lowercase algorithm and hex) so
/// that no registry- or user-supplied string reaches a URL or a path before it is validated (R50).
///
/// The 32 bytes are held inline as four big-endian words, not in an array: a tree keeps one digest
/// per file, and an array would cost a heap allocation (64 bytes) for each (issue 9, memory per entry).
/// Word order and byte order agree, so comparing words compares bytes.
public struct Digest: Hashable, Sendable, Comparable, CustomStringConvertible {
    private let w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    /// The 32 raw bytes.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Calls `body` with the 32 raw bytes, without allocating.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian)) { try body($0) }
    }

    public init(sha256 bytes: [UInt8]) {
        precondition(bytes.count == 32, "a sha256 digest has 32 bytes")
        self = bytes.withUnsafeBytes { Digest(raw: $0) }
    }

    /// From 32 raw bytes (the caller checked the count).
    init(raw: UnsafeRawBufferPointer) {
        precondition(raw.count == 32, "a sha256 digest has 32 bytes")
        func word(_ i: Int) -> UInt64 { UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) }
        (w0, w1, w2, w3) = (word(0), word(1), word(2), word(3))
    }

    /// Parses `sha256:<64 lowercase hex>`.
    public init(parsing string: String) throws {
        let utf8 = Array(string.utf8)
        let prefix = Array("sha256:".utf8)
        guard utf8.count > prefix.count, Array(utf8[0..<prefix.count]) == prefix else {
            if let colon = utf8.firstIndex(of: 0x3A), colon > 0,
               utf8[0..<colon].allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2B || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }),
               utf8.count > colon + 1,
               utf8[(colon + 1)...].allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x3D || $0 == 0x5F || $0 == 0x2D }) {
                throw ImgsyncError(.invalidDigest, "unsupported digest algorithm in \"\(string)\": only sha256 can be verified")
            }
            throw ImgsyncError(.invalidDigest, "invalid digest \"\(string)\": expected sha256:<64 lowercase hex digits>")
        }
        let hex = utf8[prefix.count...]
        guard hex.count == 64 else {
            throw ImgsyncError(.invalidDigest, "invalid digest \"\(string)\": sha256 needs 64 hex digits, got \(hex.count)")
        }
        var out = [UInt8]()
        out.reserveCapacity(32)
        var it = hex.makeIterator()
        while let hi = it.next(), let lo = it.next() {
            guard let h = Digest.nibble(hi), let l = Digest.nibble(lo) else {
                throw ImgsyncError(.invalidDigest, "invalid digest \"\(string)\": only lowercase hex digits are allowed")
            }
            out.append(h << 4 | l)
        }
        self.init(sha256: out)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The 64 lowercase hex digits.
    public var hex: String {
        var out = [UInt8]()
        out.reserveCapacity(64)
        withUnsafeBytes {
            for b in $0 {
                out.append(Digest.hexDigits[Int(b >> 4)])
                out.append(Digest.hexDigits[Int(b & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { "sha256:" + hex }

    public static func < (a: Digest, b: Digest) -> Bool { (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3) }

    /// sha256 of zero bytes.
    public static let empty = SHA256Hasher.hash([UInt8]())

    /// Thirty-two zero bytes: a placeholder where a digest is absent, never the digest of anything
    /// known.
    public static let zero = Swift.withUnsafeBytes(of: (UInt64(0), UInt64(0), UInt64(0), UInt64(0))) { Digest(raw: $0) }
}
