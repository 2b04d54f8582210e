/// A value usable as a tar name, link target, body or PAX value: `String` and `Substring` give their
/// UTF-8, `[UInt8]` and `ArraySlice<UInt8>` are taken verbatim (so non-UTF-8 names stay byte-exact).
public protocol TarBytesConvertible: Sendable {
    /// The bytes written to the archive.
    var tarBytes: [UInt8] { get }
}

extension String: TarBytesConvertible {
    public var tarBytes: [UInt8] { Array(utf8) }
}

extension Substring: TarBytesConvertible {
    public var tarBytes: [UInt8] { Array(utf8) }
}

extension Array: TarBytesConvertible where Element == UInt8 {
    public var tarBytes: [UInt8] { self }
}

extension ArraySlice: TarBytesConvertible where Element == UInt8 {
    public var tarBytes: [UInt8] { Array(self) }
}
