/// The producer side of `LayerPipeline`: read, hash, check magic, decompress, hand over. (The
/// DiffID is hashed on the consumer's side, which has more time to spare.)
final class PipelineProducer: @unchecked Sendable {
    // @unchecked: created on the consumer's thread and then used only by the producer thread.
    let source: any CompressedSource
    let expect: LayerExpectations
    let gzipEngine: GzipEngine
    let maxBytes: Int64
    let state: PipelineState

    /// Only when a digest is expected: a registry download is verified by the client already.
    private lazy var blobHasher: SHA256Hasher? = expect.digest == nil ? nil : SHA256Hasher()
    private var compressed: Int64 = 0
    private var uncompressed: Int64 = 0
    private var buffer = -1
    private var filled = 0

    init(source: any CompressedSource, expect: LayerExpectations, gzipEngine: GzipEngine, maxBytes: Int64, state: PipelineState) {
        self.source = source
        self.expect = expect
        self.gzipEngine = gzipEngine
        self.maxBytes = maxBytes
        self.state = state
    }

    private struct Cancelled: Error {}

    func run() {
        do {
            let result = try produce()
            state.producerFinished(error: nil, result: result)
        } catch is Cancelled {
            state.producerFinished(error: ImgsyncError(.io, "layer pipeline cancelled"), result: nil)
        } catch let e as ImgsyncError {
            if buffer >= 0 { state.giveBack(buffer) }
            state.producerFinished(error: e, result: nil)
        } catch {
            state.producerFinished(error: ImgsyncError(.io, "\(error)"), result: nil)
        }
    }

    private func produce() throws -> LayerDigests {
        let decompressor = makeDecompressor(expect.compression, gzipEngine: gzipEngine)
        let input = UnsafeMutableRawBufferPointer.allocate(byteCount: LayerPipeline.chunkSize, alignment: 64)
        defer { input.deallocate() }
        var prefix: [UInt8] = []
        var checked = false
        let emit: (UnsafeRawBufferPointer) throws -> Void = { [unowned self] out in try self.emit(out) }
        while true {
            if state.isCancelled { throw Cancelled() }
            let n = try source.read(into: input)
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: input[0..<n])
            compressed += Int64(n)
            if let size = expect.size, compressed > size {
                throw ImgsyncError(.sizeMismatch, "blob is longer than its descriptor's \(size) bytes")
            }
            blobHasher?.update(chunk)
            if !checked {
                prefix += chunk.prefix(8 - prefix.count)
                if prefix.count >= 8 {
                    try LayerCompression.check(declared: expect.compression, prefix: prefix)
                    checked = true
                }
            }
            try decompressor.decompress(chunk, output: emit)
        }
        if !checked && !prefix.isEmpty {
            try LayerCompression.check(declared: expect.compression, prefix: prefix)
        }
        if compressed > 0 { try decompressor.finish(output: emit) }
        if buffer >= 0 && filled > 0 {
            state.pushFull(buffer, filled)
            buffer = -1
        }
        let blob = blobHasher?.finalize()
        if let size = expect.size, compressed != size {
            throw ImgsyncError(.sizeMismatch, "blob has \(compressed) bytes but its descriptor says \(size)")
        }
        if let d = expect.digest, let blob, d != blob {
            throw ImgsyncError(.digestMismatch, "blob digest is \(blob), expected \(d)")
        }
        // The DiffID is filled in and checked by `LayerPipeline.finish`.
        return LayerDigests(blob: blob, diffID: Digest.empty, compressedSize: compressed, uncompressedSize: uncompressed)
    }

    private func emit(_ out: UnsafeRawBufferPointer) throws {
        uncompressed += Int64(out.count)
        if uncompressed > maxBytes {
            throw ImgsyncError(.limit, "layer expands to more than \(maxBytes) bytes")
        }
        var offset = 0
        while offset < out.count {
            if buffer < 0 {
                guard let b = state.takeFree() else { throw Cancelled() }
                buffer = b
                filled = 0
            }
            let dest = state.buffers[buffer]
            let n = min(dest.count - filled, out.count - offset)
            UnsafeMutableRawBufferPointer(rebasing: dest[filled..<(filled + n)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: out[offset..<(offset + n)]))
            filled += n
            offset += n
            if filled == dest.count {
                state.pushFull(buffer, filled)
                buffer = -1
            }
        }
    }
}
