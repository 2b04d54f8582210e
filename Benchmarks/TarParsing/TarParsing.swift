import Benchmark
import BenchmarkInputs
import ImgsyncCore

// TarReader over in-memory tars of many small files: header parsing, checksum, PAX records and
// body skipping, without decompression or disk I/O.
let fileCount = 20_000
let ustarTar = BenchmarkInputs.smallFilesTar(count: fileCount, pax: false)
let paxTar = BenchmarkInputs.smallFilesTar(count: fileCount, pax: true)

/// Reads every entry of `tar`, skipping (or, with `readBodies`, streaming) the bodies.
func parse(_ tar: [UInt8], benchmark: Benchmark, readBodies: Bool) throws {
    let source = MemoryChunkSource(tar, chunkSize: 1 << 20)
    benchmark.startMeasurement()
    let entries = try Rate.measure(benchmark, bytes: Int64(tar.count), entries: fileCount + 100) {
        let reader = TarReader(source: source)
        var entries = 0
        var bodyBytes = 0
        while let entry = try reader.next() {
            entries += 1
            if readBodies {
                try reader.readBody { bodyBytes &+= $0.count }
            } else {
                try reader.skipBody()
            }
            blackHole(entry)
        }
        blackHole(bodyBytes)
        return entries
    }
    benchmark.stopMeasurement()
    precondition(entries == fileCount + 100, "read \(entries) entries, expected \(fileCount + 100)")
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, Rate.entries, Rate.megabytes, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 2,
        maxDuration: .seconds(3),
        maxIterations: 100
    )

    Benchmark("TarReader ustar, 20k small files, skip bodies") { benchmark in
        try parse(ustarTar, benchmark: benchmark, readBodies: false)
    }
    Benchmark("TarReader ustar, 20k small files, read bodies") { benchmark in
        try parse(ustarTar, benchmark: benchmark, readBodies: true)
    }
    Benchmark("TarReader PAX (long names, ns mtimes), 20k small files, skip bodies") { benchmark in
        try parse(paxTar, benchmark: benchmark, readBodies: false)
    }
}
