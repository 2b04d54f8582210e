/// The last eight compressed bytes a gzip engine consumed. When an engine reports a trailer mismatch
/// the trailer is what it just read, so the stored CRC32 and ISIZE can be named in the error.
struct ConsumedTail {
    /// Little-endian shift register: the most recent byte is in the top eight bits.
    private var bits: UInt64 = 0

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes.suffix(8) {
            bits = (bits >> 8) | (UInt64(byte) << 56)
        }
    }

    /// The four bytes before the last four, read little-endian (the trailer's CRC32 after a full trailer).
    var previousWord: UInt32 { UInt32(truncatingIfNeeded: bits) }

    /// The last four bytes, read little-endian.
    var lastWord: UInt32 { UInt32(truncatingIfNeeded: bits >> 32) }
}
