import ImgsyncCore

/// Deterministic synthetic layers for tests and benchmarks: `fileCount` regular files spread over
/// `directoryCount` nested directories, sizes from `sizes`, some symlinks and hardlinks, and
/// optionally repeated bodies. The same settings give the same bytes on every run. Every file's
/// attributes derive from (`seed`, its index) alone, so nothing grows with the layer except the
/// directory table and the output.
public struct LayerGenerator: Sendable {
    public var seed: UInt64
    public var fileCount: Int
    public var directoryCount: Int
    public var sizes: FileSizeDistribution = .usrLike
    /// Upper bound applied to every drawn size.
    public var maxFileSize: Int = 32 << 20
    public var content: BodyContent = .mixed
    /// Chance, per file, of a symlink to it next to it (half relative, half absolute).
    public var symlinkFraction: Double = 0.03
    /// Chance, per file, of a hardlink (in the same directory) to a random earlier file.
    public var hardlinkFraction: Double = 0.01
    /// Chance that a file's body repeats the body of a random earlier file.
    public var duplicateFraction: Double = 0
    public var mtime: Int64 = TarBuilder.t0

    public init(seed: UInt64, fileCount: Int, directoryCount: Int = 1) {
        precondition(fileCount >= 0 && directoryCount >= 1, "need at least one directory")
        self.seed = seed
        self.fileCount = fileCount
        self.directoryCount = directoryCount
    }

    /// The whole layer in memory, with its summary.
    public func generate() -> (bytes: [UInt8], summary: LayerSummary) {
        var out: [UInt8] = []
        let summary = emit { out += $0 }
        return (out, summary)
    }

    /// Produces the layer as consecutive chunks of about 1 MiB (larger when one body is larger), so a
    /// caller can stream it anywhere. Returns the summary once the end-of-archive marker is out.
    public func emit<E: Error>(_ sink: ([UInt8]) throws(E) -> Void) throws(E) -> LayerSummary {
        let hasher = SHA256Hasher()
        var summary = LayerSummary()
        var builder = TarBuilder()
        func flush(force: Bool) throws(E) {
            guard force || builder.bytes.count >= 1 << 20 else { return }
            let chunk = builder.drain()
            hasher.update(chunk)
            summary.tarByteCount += Int64(chunk.count)
            try sink(chunk)
        }

        let dirs = directoryPaths()
        for path in dirs {
            builder.dir(path, mtime: mtime)
            summary.directoryCount += 1
            try flush(force: false)
        }
        for i in 0..<fileCount {
            var file = attributes(of: i)
            let dir = dirs[file.dir]
            let origin = contentOrigin(of: i)
            var bodySeed = SplitMix64(seed: seed, index: UInt64(origin), stream: 3)
            let body = BodySynthesizer.body(size: attributes(of: origin).size, seed: bodySeed.next(), content: content)
            builder.file(dir + "f\(i)", body, mode: file.mode, mtime: mtime)
            summary.fileCount += 1
            summary.totalBodyBytes += Int64(body.count)
            if origin != i { summary.duplicateBodyCount += 1 }

            if file.rng.nextUnit() < symlinkFraction {
                let target = file.rng.next() & 1 == 0 ? "f\(i)" : "/" + dir + "f\(i)"
                builder.symlink(dir + "l\(i)", target: target, mtime: mtime)
                summary.symlinkCount += 1
            }
            if file.rng.nextUnit() < hardlinkFraction {
                let j = file.rng.next(below: i + 1)
                builder.hardlink(dir + "h\(i)", target: dirs[attributes(of: j).dir] + "f\(j)", mtime: mtime)
                summary.hardlinkCount += 1
            }
            try flush(force: false)
        }
        builder.endOfArchive()
        try flush(force: true)
        summary.diffID = hasher.finalize()
        return summary
    }

    /// Directory `k` hangs below a random earlier directory or the root, so depth grows like ln(k).
    func directoryPaths() -> [String] {
        var paths: [String] = []
        paths.reserveCapacity(directoryCount)
        for k in 0..<directoryCount {
            var rng = SplitMix64(seed: seed, index: UInt64(k), stream: 1)
            let parent = rng.next(below: k + 1) - 1
            paths.append((parent < 0 ? "" : paths[parent]) + "d\(k)/")
        }
        return paths
    }

    /// The per-file draws, in a fixed order; `rng` continues after them for the link decisions.
    func attributes(of index: Int) -> (dir: Int, size: Int, mode: Int64, duplicateOf: Int?, rng: SplitMix64) {
        var rng = SplitMix64(seed: seed, index: UInt64(index), stream: 2)
        let dir = rng.next(below: directoryCount)
        let size = sizes.draw(&rng, cap: maxFileSize)
        let mode: Int64 = rng.next(below: 10) == 0 ? 0o755 : 0o644
        let duplicate = rng.nextUnit() < duplicateFraction && index > 0
        let original = rng.next(below: max(index, 1))
        return (dir, size, mode, duplicate ? original : nil, rng)
    }

    /// The file whose body `index` repeats (itself when it is not a duplicate).
    func contentOrigin(of index: Int) -> Int {
        var k = index
        while let earlier = attributes(of: k).duplicateOf { k = earlier }
        return k
    }
}
