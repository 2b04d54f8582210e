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
    /// The first bytes of the current frame, up to the longest frame header (18 bytes), for two checks
    /// libzstd does not make consistently (found by fuzzing; libzstd 1.5.4):
    /// - the magic: libzstd also decodes the pre-1.0 formats (v0.5–v0.7, magic 25–27 b5 2f fd), which
    ///   no layer may use; only RFC 8878 frames and skippable frames get past (libzstd recognises a
    ///   legacy frame only at the start of an input, which the one-byte offers below already
    ///   prevent; this check says so in our words);
    /// - the declared content size: on its streaming path libzstd ends a frame whose blocks hold fewer
    ///   bytes than its header declares without an error.
    private var header: [UInt8] = []
    /// Bytes produced by the current frame.
    private var produced: UInt64 = 0
    private static let maxHeader = 18

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
            // A frame's first 18 bytes (the longest header) go one at a time, so libzstd's verdict
            // cannot depend on how the blob was split into reads (found by fuzzing): given a whole
            // frame in one input it takes a single-pass shortcut whose checks differ from its
            // streaming path (an RLE block of 0 bytes passes one and fails the other), and its
            // header loader accepted a header with the reserved bit set when exactly 13 bytes came
            // in the first read. Byte by byte, the header always takes the same path.
            let end = source.size
            // (Only while input is left: after a full output window the loop comes back with none.)
            if header.count < Self.maxHeader && source.pos < end { source.size = source.pos + 1 }
            let hint = ZSTD_decompressStream(context, &sink, &source)
            source.size = end
            if ZSTD_isError(hint) != 0 {
                let error = streamError(hint, at: offset + UInt64(source.pos))
                failure = error
                throw error
            }
            offset += UInt64(source.pos - before)
            produced += UInt64(sink.pos)
            do {
                if header.count < Self.maxHeader {
                    // zstd stops at frame boundaries, so what this call consumed belongs to the current frame.
                    let take = min(Self.maxHeader - header.count, source.pos - before)
                    header += UnsafeRawBufferPointer(rebasing: input[before..<(before + take)])
                    try checkMagic()
                }
                if hint == 0 { try checkContentSize() }
            } catch let error as ImgsyncError {
                failure = error
                throw error
            }
            if sink.pos > 0 { try output(UnsafeRawBufferPointer(start: window.baseAddress, count: sink.pos)) }
            if hint == 0 {
                // The frame is complete and fully flushed; zstd stops at the frame boundary.
                frame += 1
                frameStart = offset
                inFrame = false
                header.removeAll(keepingCapacity: true)
                produced = 0
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

    private static let frameMagic: [UInt8] = [0x28, 0xb5, 0x2f, 0xfd]
    /// Bytes 1–3 of a skippable frame's magic (byte 0 is 50–5f).
    private static let skippableMagic: [UInt8] = [0x2a, 0x4d, 0x18]

    /// Once the current frame's 4 magic bytes are in (libzstd decodes nothing of a frame before), throws
    /// unless they are a frame or skippable-frame magic.
    private func checkMagic() throws {
        guard header.count >= 4 else { return }
        let magic = Array(header[0..<4])
        if magic == Self.frameMagic || (magic[0] & 0xf0 == 0x50 && Array(magic[1...]) == Self.skippableMagic) { return }
        let legacy = (0x1e...0x27).contains(magic[0]) && Array(magic[1...]) == [0xb5, 0x2f, 0xfd]
        let found = GzipMessages.bytes(magic) + (legacy ? ", a pre-1.0 zstd frame, which layers may not use" : "")
        if frame == 1 {
            throw ImgsyncError(.decompress, "not a zstd stream: no zstd frame magic at offset 0 (found \(found))")
        }
        throw ImgsyncError(
            .decompress,
            "zstd frame \(frame - 1) is followed by bytes that are not a zstd frame at compressed offset "
                + "\(frameStart) (found \(found))"
        )
    }

    /// At the end of a frame: throws when its header declares a content size other than what it produced.
    private func checkContentSize() throws {
        let declared = header.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        // ZSTD_CONTENTSIZE_UNKNOWN is 2^64 - 1, ZSTD_CONTENTSIZE_ERROR 2^64 - 2 (macros Swift cannot import).
        guard declared < UInt64.max - 1, declared != produced else { return }
        throw ImgsyncError(
            .decompress,
            "zstd frame \(frame) declares \(declared) bytes of content but its blocks hold \(produced); "
                + "the layer blob is corrupt"
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
