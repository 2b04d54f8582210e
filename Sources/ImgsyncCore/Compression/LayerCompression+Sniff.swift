/// Magic-byte detection (docs/conformance.md D10, U136): a layer's declared compression must agree with the
/// first bytes of its blob.
extension LayerCompression {
    private static let gzipMagic: [UInt8] = [0x1f, 0x8b]
    private static let zstdMagic: [UInt8] = [0x28, 0xb5, 0x2f, 0xfd]

    /// What the first bytes of a blob say: `.gzip` for 1f 8b, `.zstd` for a zstd frame (28 b5 2f fd) or a
    /// skippable frame (5X 2a 4d 18), otherwise `.none`. Prefixes too short to hold a magic give `.none`.
    public static func sniff(_ prefix: UnsafeRawBufferPointer) -> LayerCompression {
        if prefix.count >= 2, matches(prefix, gzip: true) { return .gzip }
        if prefix.count >= 4, matches(prefix, gzip: false) { return .zstd }
        return .none
    }

    /// `sniff(_:)` for an array.
    public static func sniff(_ prefix: [UInt8]) -> LayerCompression {
        prefix.withUnsafeBytes { sniff($0) }
    }

    /// Throws `ImgsyncError(.mediaType)` when `prefix` contradicts `declared`. An empty prefix (a 0-byte
    /// blob) and a prefix too short to hold the whole magic but consistent with it pass. For `.none` only
    /// a gzip or zstd magic counts as a contradiction: a tar may start with any byte of a file name.
    public static func check(declared: LayerCompression, prefix: UnsafeRawBufferPointer) throws {
        guard !prefix.isEmpty else { return }
        let found = sniff(prefix)
        if found == declared { return }
        let start = GzipMessages.bytes(prefix.prefix(found == .zstd ? 4 : found == .gzip ? 2 : 8))
        switch (declared, found) {
        case (.none, _):
            throw ImgsyncError(
                .mediaType,
                "media type says uncompressed tar but the blob starts with \(found.rawValue) magic bytes (\(start))")
        case (_, .gzip), (_, .zstd):
            throw ImgsyncError(
                .mediaType,
                "media type says \(declared.rawValue) but the blob starts with \(found.rawValue) magic bytes "
                    + "(\(start))")
        case (_, .none):
            if prefix.count < (declared == .gzip ? 2 : 4), matches(prefix, gzip: declared == .gzip) { return }
            let expected = declared == .gzip ? "1f 8b" : "28 b5 2f fd (or a skippable frame 5X 2a 4d 18)"
            let tarNote = looksLikeTar(prefix) ? ", like a plain tar" : ""
            throw ImgsyncError(
                .mediaType,
                "media type says \(declared.rawValue) but the blob does not start with the \(declared.rawValue) "
                    + "magic bytes \(expected); it starts with \(start)\(tarNote)"
            )
        }
    }

    /// `check(declared:prefix:)` for an array.
    public static func check(declared: LayerCompression, prefix: [UInt8]) throws {
        try prefix.withUnsafeBytes { try check(declared: declared, prefix: $0) }
    }

    /// Whether the available bytes of `prefix` agree with the gzip magic, or with either zstd magic.
    private static func matches(_ prefix: UnsafeRawBufferPointer, gzip: Bool) -> Bool {
        if gzip { return zip(prefix, gzipMagic).allSatisfy { $0 == $1 } }
        if zip(prefix, zstdMagic).allSatisfy({ $0 == $1 }) { return true }
        // Skippable frames: magic 0x184D2A50...0x184D2A5F, little-endian.
        return zip(prefix, [0x50, 0x2a, 0x4d, 0x18] as [UInt8]).enumerated().allSatisfy { index, pair in
            index == 0 ? pair.0 & 0xf0 == pair.1 : pair.0 == pair.1
        }
    }

    /// A POSIX tar header carries "ustar" at offset 257.
    private static func looksLikeTar(_ prefix: UnsafeRawBufferPointer) -> Bool {
        prefix.count >= 262 && Array(prefix[257..<262]) == Array("ustar".utf8)
    }
}
