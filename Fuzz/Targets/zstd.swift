@testable import ImgsyncCore

/// The zstd decoder (frames, skippable frames, checksums, window limit) fed the payload in pieces. It
/// must not crash, and its verdict and output must not depend on the split.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzZstd(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = FuzzInput(data, size)
    func run(_ pieces: [ArraySlice<UInt8>]) -> (digest: Digest, count: Int, ok: Bool) {
        let decompressor = ZstdDecompressor(window: 64 << 10)
        let hasher = SHA256Hasher()
        var count = 0
        struct Enough: Error {}
        let sink: (UnsafeRawBufferPointer) throws -> Void = { out in
            count += out.count
            if count > FuzzLimits.output { throw Enough() }
            hasher.update(out)
        }
        do {
            for piece in pieces { try piece.withUnsafeBytes { try decompressor.decompress($0, output: sink) } }
            try decompressor.finish(output: sink)
            return (hasher.finalize(), count, true)
        } catch is Enough {
            return (hasher.finalize(), count, false)
        } catch {
            checkReported(error, allowed: [.decompress, .truncated])
            return (hasher.finalize(), count, false)
        }
    }
    let split = run(input.pieces())
    if split.count > FuzzLimits.output { return 0 }
    let whole = run(input.payload.isEmpty ? [] : [input.payload[...]])
    if split.ok != whole.ok || (split.ok && (split.digest != whole.digest || split.count != whole.count)) {
        finding("zstd gave \(split) split and \(whole) whole")
    }
    return 0
}
