/// Returns a fresh decompressor for a layer compressed with `compression`.
/// - Parameters:
///   - gzipEngine: the library used for gzip layers.
///   - window: the size of the output chunks handed to `output`, in bytes.
public func makeDecompressor(
    _ compression: LayerCompression, gzipEngine: GzipEngine = .isal, window: Int = 1 << 20
) -> any Decompressor {
    switch compression {
    case .none: PassthroughDecompressor(window: window)
    case .gzip:
        switch gzipEngine {
        case .isal: GzipDecompressor(window: window)
        case .zlib: ZlibGzipDecompressor(window: window)
        }
    case .zstd: ZstdDecompressor(window: window)
    }
}
