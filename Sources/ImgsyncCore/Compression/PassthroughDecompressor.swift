/// The "decompressor" for uncompressed tar layers: hands the input on unchanged, in slices of at most
/// `window` bytes, without copying.
public final class PassthroughDecompressor: Decompressor {
    private let window: Int

    public init(window: Int = 1 << 20) {
        precondition(window > 0, "PassthroughDecompressor window must be positive")
        self.window = window
    }

    public func decompress(_ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void) throws {
        var start = 0
        while start < input.count {
            let end = min(input.count, start + window)
            try output(UnsafeRawBufferPointer(rebasing: input[start..<end]))
            start = end
        }
    }

    public func finish(output: (UnsafeRawBufferPointer) throws -> Void) throws {}
}
