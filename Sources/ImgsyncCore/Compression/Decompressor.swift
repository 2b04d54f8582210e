/// How a layer blob is compressed (docs/design.md §4, docs/conformance.md D10, U128–U137).
public enum LayerCompression: String, Sendable, CaseIterable {
    case none = "tar"
    case gzip
    case zstd
}

/// A push-style streaming decompressor. Input arrives in arbitrary chunks; decompressed bytes are
/// handed to `output` in chunks of at most the decompressor's internal window. Implementations are
/// final classes owning their C state, confined to one thread.
public protocol Decompressor: AnyObject {
    /// Decompresses `input` (any size, possibly empty) and calls `output` zero or more times.
    func decompress(_ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void) throws
    /// Called once after the last input. Throws `ImgsyncError(.decompress)` or `.truncated` when the
    /// compressed stream ended in the middle of a member or frame.
    func finish(output: (UnsafeRawBufferPointer) throws -> Void) throws
}
