import Benchmark
import Foundation
import ImgsyncCore
import ImgsyncTestSupport

/// Deterministic inputs for the benchmarks (same bytes on every run), built on first use so that a
/// filtered run only pays for what it measures.
public enum BenchmarkInputs {
    /// `count` pseudo-random bytes (incompressible, like most hashed bodies after compression).
    public static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { raw in
            var i = 0
            while i + 8 <= raw.count {
                raw.storeBytes(of: rng.next(), toByteOffset: i, as: UInt64.self)
                i += 8
            }
            while i < raw.count {
                raw[i] = UInt8(truncatingIfNeeded: rng.next())
                i += 1
            }
        }
        return out
    }

    /// A tar of `count` small regular files (0–1 KiB bodies) in 100 directories, ustar headers only,
    /// or, with `pax`, names longer than 100 bytes and nanosecond mtimes (one PAX `x` header each).
    public static func smallFilesTar(count: Int, pax: Bool) -> [UInt8] {
        var rng = SplitMix64(seed: pax ? 2 : 1)
        let padding = String(repeating: "long-directory-name-", count: 5)
        var builder = TarBuilder()
        for d in 0..<100 {
            builder.dir(pax ? "\(padding)d\(d)/" : "d\(d)/")
        }
        for i in 0..<count {
            let dir = pax ? "\(padding)d\(i % 100)/" : "d\(i % 100)/"
            let body = [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: rng.next(below: 1025))
            builder.file(dir + "file-\(i)", body, mtimeNanoseconds: pax ? 1 + rng.next(below: 999_999_999) : 0)
        }
        return builder.build()
    }

    /// A /usr-like generated layer (LayerGenerator `.usrLike` sizes, `.mixed` bodies that compress
    /// about 2.5:1) of roughly `megabytes` MB of tar, with its summary.
    public static func usrLikeLayer(megabytes: Int, seed: UInt64) -> (tar: [UInt8], summary: LayerSummary) {
        // LayerGenerator's .usrLike sizes average about 60 KiB of tar per file for these seeds.
        let files = max(1, megabytes * 1_000_000 / (60 << 10))
        var generator = LayerGenerator(seed: seed, fileCount: files, directoryCount: max(1, files / 20))
        generator.sizes = .usrLike
        generator.content = .mixed
        let (bytes, summary) = generator.generate()
        return (bytes, summary)
    }

    /// A directory for throwaway trees: on tmpfs (/dev/shm) when it is writable, else the temp dir.
    public static func scratchDirectory(_ label: String) throws -> String {
        let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : FileManager.default.temporaryDirectory.path
        let path = base + "/imgsync-bench-\(label)-\(getpid())"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Removes a tree that may hold read-only files and 0000 directories.
    public static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            chmod(path, 0o700)
            for item in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                removeTree(path + "/" + item)
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// Custom metrics: rates computed from a clock read around the measured work itself.
public enum Rate {
    /// 10^6 bytes per second of the stage's output (or input, for hashing).
    public static let megabytes = BenchmarkMetric.custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)
    /// Tar entries per second.
    public static let entries = BenchmarkMetric.custom("entries/s", polarity: .prefersLarger, useScalingFactor: false)

    /// Runs `work`, then records `bytes`/elapsed as MB/s (and `entries`/elapsed when given).
    @discardableResult
    public static func measure<R>(_ benchmark: Benchmark, bytes: Int64, entries: Int? = nil, _ work: () throws -> R) rethrows -> R {
        let clock = ContinuousClock()
        let start = clock.now
        let result = try work()
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        if seconds > 0 {
            benchmark.measurement(megabytes, Int((Double(bytes) / 1e6 / seconds).rounded()))
            if let entries { benchmark.measurement(Rate.entries, Int((Double(entries) / seconds).rounded())) }
        }
        return result
    }
}
