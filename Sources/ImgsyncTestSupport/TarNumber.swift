/// An explicit encoding for a numeric header field. Without one, the builder writes octal when the
/// value fits the field and GNU base-256 otherwise (negative values, size ≥ 8 GiB, major ≥ 2^21).
public enum TarNumber: Sendable, Equatable {
    /// Zero-padded octal digits followed by a NUL; precondition: the value fits.
    case octal(Int64)
    /// GNU base-256: big-endian two's complement with the top bit of the first byte set.
    case base256(Int64)
    /// GNU base-256 of an unsigned value (for sizes above `Int64.max`).
    case base256Unsigned(UInt64)
    /// These exact bytes, NUL-padded to the field width (truncated if longer).
    case raw([UInt8])
}
