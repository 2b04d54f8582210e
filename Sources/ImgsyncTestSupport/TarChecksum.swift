/// What to write in a header's `chksum` field instead of the correct value.
public enum TarChecksum: Sendable, Equatable {
    /// The correct checksum plus one, written in the usual format.
    case corrupt
    /// This value, written as six octal digits, NUL, space.
    case value(Int)
    /// These exact 8 bytes (NUL-padded or truncated).
    case raw([UInt8])
}
