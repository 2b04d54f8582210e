import Benchmark
import BenchmarkInputs
import ImgsyncCore
import ImgsyncTestSupport

// Decompression of a generated /usr-like layer (about 64 MB of tar): ISA-L and zlib inflate of the
// gzip blob, zstd decode, and the whole producer stage of a layer (blob SHA-256, inflate, DiffID
// SHA-256 on the pipeline's own thread). MB/s are of decompressed output.
let layer = BenchmarkInputs.usrLikeLayer(megabytes: 64, seed: 7)
let gzipBlob = LayerCompressors.gzip(layer.tar, level: 6)
let zstdBlob = LayerCompressors.zstd(layer.tar, level: 3)

/// Feeds `blob` in 1 MiB pieces (as the pipeline reads a file) and counts the output bytes.
func decompress(_ blob: [UInt8], _ decompressor: any Decompressor) throws -> Int {
    var produced = 0
    try blob.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let end = min(offset + (1 << 20), raw.count)
            try decompressor.decompress(UnsafeRawBufferPointer(rebasing: raw[offset..<end])) { produced += $0.count }
            offset = end
        }
        try decompressor.finish { produced += $0.count }
    }
    return produced
}

func run(_ benchmark: Benchmark, _ blob: [UInt8], _ compression: LayerCompression, _ engine: GzipEngine) throws {
    let decompressor = makeDecompressor(compression, gzipEngine: engine)
    let produced = try Rate.measure(benchmark, bytes: Int64(layer.tar.count)) { try decompress(blob, decompressor) }
    precondition(produced == layer.tar.count, "decompressed \(produced) bytes, expected \(layer.tar.count)")
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, Rate.megabytes, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 1,
        maxDuration: .seconds(5),
        maxIterations: 20
    )

    Benchmark("inflate ISA-L (64 MB generated layer)") { benchmark in
        try run(benchmark, gzipBlob, .gzip, .isal)
    }
    Benchmark("inflate zlib (64 MB generated layer)") { benchmark in
        try run(benchmark, gzipBlob, .gzip, .zlib)
    }
    Benchmark("zstd decode (64 MB generated layer)") { benchmark in
        try run(benchmark, zstdBlob, .zstd, .isal)
    }
    Benchmark("LayerPipeline gzip ISA-L + blob and DiffID SHA-256 (64 MB)") { benchmark in
        let digests = try Rate.measure(benchmark, bytes: Int64(layer.tar.count)) {
            let pipeline = LayerPipeline(source: BytesSource(gzipBlob), expect: LayerExpectations(compression: .gzip),
                                         maxBytes: .max)
            while let chunk = try pipeline.nextChunk() { blackHole(chunk.count) }
            return try pipeline.finish()
        }
        precondition(digests.diffID == layer.summary.diffID, "DiffID \(digests.diffID) != generator's \(layer.summary.diffID)")
    }
}
