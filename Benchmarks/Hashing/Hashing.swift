import Benchmark
import BenchmarkInputs
import ImgsyncCore

// SHA-256 of file bodies with the EVP hasher the object store uses. Each iteration hashes 4 MiB in
// bodies of one size, so per-body overhead (EVP context, finalisation) shows at 4 KiB.
let totalPerIteration = 4 << 20
let bodySizes: [(label: String, size: Int)] = [("4 KiB", 4 << 10), ("64 KiB", 64 << 10), ("1 MiB", 1 << 20)]
let bodies = BenchmarkInputs.randomBytes(totalPerIteration, seed: 42)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, Rate.megabytes, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 3,
        maxDuration: .seconds(3),
        maxIterations: 200
    )

    for (label, size) in bodySizes {
        Benchmark("SHA-256 \(label) bodies (4 MiB per iteration)") { benchmark in
            let count = totalPerIteration / size
            bodies.withUnsafeBytes { raw in
                Rate.measure(benchmark, bytes: Int64(totalPerIteration)) {
                    for i in 0..<count {
                        let body = UnsafeRawBufferPointer(rebasing: raw[(i * size)..<((i + 1) * size)])
                        blackHole(SHA256Hasher.hash(body))
                    }
                }
            }
        }
    }

    // The streaming form the layer applier uses for large files: one hasher fed 64 KiB pieces.
    Benchmark("SHA-256 streaming, 64 KiB updates (4 MiB per iteration)") { benchmark in
        bodies.withUnsafeBytes { raw in
            Rate.measure(benchmark, bytes: Int64(totalPerIteration)) {
                let hasher = SHA256Hasher()
                var offset = 0
                while offset < raw.count {
                    let end = min(offset + (64 << 10), raw.count)
                    hasher.update(UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
                    offset = end
                }
                blackHole(hasher.finalize())
            }
        }
    }
}
