/// How `LayerGenerator` draws regular-file sizes.
public enum FileSizeDistribution: Sendable, Equatable {
    /// Shaped like a distribution's `/usr`: 3 % empty, most files 512 B–32 KiB, 2 % in 256 KiB–4 MiB
    /// and 0.2 % in 4–32 MiB (log-uniform within each band); mean about 70 KiB.
    case usrLike
    /// Every file has this size.
    case constant(Int)
    /// Uniform in the range.
    case uniform(ClosedRange<Int>)

    /// (cumulative per-mille, lower bound, upper bound) for `usrLike`.
    private static let usrBands: [(Int, Int, Int)] = [
        (30, 0, 0), (250, 1, 512), (590, 512, 4 << 10), (870, 4 << 10, 32 << 10),
        (978, 32 << 10, 256 << 10), (998, 256 << 10, 4 << 20), (1000, 4 << 20, 32 << 20),
    ]

    /// Draws one size, at most `cap`.
    func draw(_ rng: inout SplitMix64, cap: Int) -> Int {
        switch self {
        case .constant(let n): return min(n, cap)
        case .uniform(let range): return min(range.lowerBound + rng.next(below: range.count), cap)
        case .usrLike:
            let pick = rng.next(below: 1000)
            let band = Self.usrBands.first { pick < $0.0 }!
            return min(Self.logUniform(&rng, band.1, band.2), cap)
        }
    }

    /// Log-uniform in [low, high) with integers only: a random power-of-two octave, then uniform in it.
    private static func logUniform(_ rng: inout SplitMix64, _ low: Int, _ high: Int) -> Int {
        guard high > low else { return low }
        let lowBits = Int.bitWidth - low.leadingZeroBitCount
        let highBits = Int.bitWidth - high.leadingZeroBitCount
        let octave = lowBits + rng.next(below: max(1, highBits - lowBits))
        let start = max(low, octave == 0 ? 0 : 1 << (octave - 1))
        let end = min(high, 1 << octave)
        return end > start ? start + rng.next(below: end - start) : start
    }
}
