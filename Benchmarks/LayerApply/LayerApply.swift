import Benchmark
import BenchmarkInputs
import Foundation
import ImgsyncCore
import ImgsyncRepository
import ImgsyncTestSupport

// Whole-layer application: ImageBuilder applies a generated ~100 MB /usr-like gzip layer into a
// fresh repository on tmpfs (/dev/shm when writable) and publishes it: pipeline, tar, per-file
// SHA-256, object store, hard links, catalog, rename. MB/s are of uncompressed tar.
// Only the compressed blob and the summary stay in memory, so peak RSS is mostly the applier's.
let (gzipBlob, summary): ([UInt8], LayerSummary) = {
    let layer = BenchmarkInputs.usrLikeLayer(megabytes: 100, seed: 11)
    return (LayerCompressors.gzip(layer.tar, level: 6), layer.summary)
}()
let scratch = try! BenchmarkInputs.scratchDirectory("apply")

/// Applies the layer into `root` and publishes it as `name`; returns the published image.
func applyLayer(root: String, name: String, engine: GzipEngine) throws -> PublishedImage {
    let repository = try Repository(root: root)
    try repository.lock()
    let builder = try ImageBuilder(repository: repository, linkMode: .auto, gzipEngine: engine)
    let expect = LayerExpectations(compression: .gzip, diffID: summary.diffID)
    try builder.apply(LayerInput(source: BytesSource(gzipBlob), name: "generated-100MB.tar.gz", expect: expect))
    return try builder.publish(as: PublishedName(name))
}

func freshApply(_ benchmark: Benchmark, engine: GzipEngine) throws {
    let root = scratch + "/fresh-\(UInt32.random(in: 0...UInt32.max))"
    benchmark.startMeasurement()
    let image = try Rate.measure(benchmark, bytes: summary.tarByteCount, entries: summary.entryCount) {
        try applyLayer(root: root, name: "bench/layer:1", engine: engine)
    }
    benchmark.stopMeasurement()
    precondition(image.entries == summary.entryCount + 1, "\(image.entries) catalog entries for \(summary.entryCount) tar entries")
    BenchmarkInputs.removeTree(root)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, Rate.megabytes, Rate.entries, .peakMemoryResident, .mallocCountTotal],
        warmupIterations: 0,
        maxDuration: .seconds(20),
        maxIterations: 10
    )

    // The input is generated in setup (first use of the globals), outside every iteration.
    let generate: Benchmark.BenchmarkSetupHook = { blackHole(gzipBlob.count) }
    Benchmark("apply 100 MB gzip layer into an empty root (ISA-L)", configuration: .init(setup: generate)) { benchmark in
        try freshApply(benchmark, engine: .isal)
    }
    Benchmark("apply 100 MB gzip layer into an empty root (zlib)", configuration: .init(setup: generate)) { benchmark in
        try freshApply(benchmark, engine: .zlib)
    }

    // Every body is already in .objects: hashing and linking only, no object writes.
    let warmRoot = scratch + "/warm"
    Benchmark(
        "apply 100 MB gzip layer again (bodies already stored)",
        configuration: .init(
            setup: { _ = try applyLayer(root: warmRoot, name: "bench/warm:0", engine: .isal) },
            teardown: { BenchmarkInputs.removeTree(warmRoot) }
        )
    ) { benchmark in
        let name = "bench/warm:\(UInt32.random(in: 1...UInt32.max))"
        let image = try Rate.measure(benchmark, bytes: summary.tarByteCount, entries: summary.entryCount) {
            try applyLayer(root: warmRoot, name: name, engine: .isal)
        }
        precondition(image.reused, "the second apply of one layer must reuse the published tree")
    }
}
