import CImgsyncZstd

/// zstd on `ZSTD_decompressStream`: any number of frames, skippable frames skipped, content checksums
/// verified when a frame carries one. Frames may need a window of up to 128 MiB (zstd's default limit).
public final class ZstdDecompressor: Decompressor {
    private let context: OpaquePointer
    private let window: UnsafeMutableRawBufferPointer
    /// 1-based index of the frame being read; skippable frames count.
    private var frame = 1
    private var inFrame = false
    private var frameStart: UInt64 = 0
    /// Compressed bytes consumed so far.
    private var offset: UInt64 = 0
    private var failure: ImgsyncError?

    /// - Parameter window: size of the output buffer handed to `output`, in bytes.
    public init(window: Int = 1 << 20) {
        precondition(window > 0, "ZstdDecompressor window must be positive")
        guard let context = ZSTD_createDCtx() else { fatalError("ZSTD_createDCtx failed: out of memory") }
        self.context = context
        self.window = .allocate(byteCount: window, alignment: 64)
    }

    deinit {
        ZSTD_freeDCtx(context)
        window.deallocate()
    }

    public func decompress(_ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let failure { throw failure }
        guard !input.isEmpty else { return }
        var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        while true {
            var sink = ZSTD_outBuffer(dst: window.baseAddress, size: window.count, pos: 0)
            let before = source.pos
            let hint = ZSTD_decompressStream(context, &sink, &source)
            if ZSTD_isError(hint) != 0 {
                let error = streamError(hint, at: offset + UInt64(source.pos))
                failure = error
                throw error
            }
            offset += UInt64(source.pos - before)
            if sink.pos > 0 { try output(UnsafeRawBufferPointer(start: window.baseAddress, count: sink.pos)) }
            if hint == 0 {
                // The frame is complete and fully flushed; zstd stops at the frame boundary.
                frame += 1
                frameStart = offset
                inFrame = false
                if source.pos == source.size { return }
                continue
            }
            inFrame = true
            if source.pos == source.size && sink.pos < sink.size { return }
        }
    }

    public func finish(output: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let failure { throw failure }
        guard inFrame else { return }
        throw ImgsyncError(
            .truncated,
            "zstd frame \(frame) (starting at compressed offset \(frameStart)) is incomplete after \(offset) "
                + "compressed bytes; the layer blob is truncated"
        )
    }

    private func streamError(_ code: Int, at position: UInt64) -> ImgsyncError {
        let name = String(cString: ZSTD_getErrorName(code))
        switch ZSTD_getErrorCode(code) {
        case ZSTD_error_checksum_wrong:
            return ImgsyncError(
                .decompress,
                "zstd frame \(frame): content checksum mismatch (the decompressed data does not match the "
                    + "frame's XXH64 checksum); the layer blob is corrupt"
            )
        case ZSTD_error_prefix_unknown where frame == 1:
            return ImgsyncError(.decompress, "not a zstd stream: no zstd frame magic at offset 0 (zstd: \(name))")
        case ZSTD_error_prefix_unknown:
            return ImgsyncError(
                .decompress,
                "zstd frame \(frame - 1) is followed by bytes that are not a zstd frame at compressed offset "
                    + "\(frameStart) (zstd: \(name))"
            )
        case ZSTD_error_frameParameter_windowTooLarge:
            return ImgsyncError(
                .decompress,
                "zstd frame \(frame) needs a window larger than the 128 MiB this decoder allows (zstd: \(name))")
        default:
            return ImgsyncError(
                .decompress,
                "zstd frame \(frame): \(name) near compressed offset \(position); the layer blob is corrupt")
        }
    }
}
