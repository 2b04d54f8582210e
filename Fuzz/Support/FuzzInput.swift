import Foundation
@testable import ImgsyncCore
import ImgsyncTestSupport

/// The fuzzer's bytes: one option byte (how to split, which mode), then the payload. Keeping the
/// options in front means every seed of the corpus is "option byte + a real blob".
struct FuzzInput {
    let options: UInt8
    let payload: [UInt8]

    init(_ data: UnsafePointer<UInt8>, _ size: Int) {
        let bytes = Array(UnsafeBufferPointer(start: data, count: size))
        options = bytes.first ?? 0
        payload = Array(bytes.dropFirst())
    }

    /// Whether option bit `n` is set.
    func flag(_ n: Int) -> Bool { options & (1 << n) != 0 }

    /// Piece sizes for feeding the payload in parts: 1 byte, a few bytes, odd sizes, whole blocks.
    var pieceSize: Int { [1, 3, 7, 64, 511, 512, 4096, Int.max][Int(options >> 5)] }

    /// The payload as a chunk source with pieces of `pieceSize` bytes.
    func chunkSource() -> MemoryChunkSource { MemoryChunkSource(payload, chunkSize: min(pieceSize, 1 << 20)) }

    /// The payload in pieces of varying sizes, to catch state that breaks at a split: bits 5–7 choose
    /// the largest piece (1, 4, 16, 64, 512, 4096 or 65536 bytes; 7 is the whole payload), the option
    /// byte seeds the sizes. (ISA-L's over-reported input needed exactly 16 bytes in one call.)
    func pieces() -> [ArraySlice<UInt8>] {
        let k = Int(options >> 5)
        guard k < 7 else { return payload.isEmpty ? [] : [payload[...]] }
        let largest = UInt64([1, 4, 16, 64, 512, 4096, 65536][k])
        var rng = SplitMix64(seed: UInt64(options), index: UInt64(payload.count))
        var out: [ArraySlice<UInt8>] = []
        var start = 0
        while start < payload.count {
            let end = min(payload.count, start + 1 + Int(rng.next() % largest))
            out.append(payload[start..<end])
            start = end
        }
        return out
    }
}

/// Small limits so that every input is quick: a slow input in these targets means a missing bound.
enum FuzzLimits {
    static var layer: LayerLimits {
        var limits = LayerLimits()
        limits.maxExtendedHeader = 64 << 10
        limits.maxSparseMap = 64 << 10
        limits.maxLayerBytes = 32 << 20
        limits.maxImageBytes = 64 << 20
        limits.maxEntries = 4096
        limits.maxPathLength = 16 << 10
        limits.maxPathDepth = 1024
        return limits
    }

    /// Decompressed bytes a decompressor target reads before it stops (a bomb is not a finding).
    static let output = 64 << 20
}

/// One line on standard error (unbuffered, as libFuzzer's own output).
func printError(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// Stops the fuzzer with the finding; libFuzzer saves the input as `crash-…`.
func finding(_ message: String) -> Never {
    printError("FINDING: \(message)")
    abort()
}

/// Every error reaching an operator is one bounded line (issue 8, item 6).
func checkReported(_ error: any Error, allowed: Set<ImgsyncError.Code>? = nil) {
    guard let e = error as? ImgsyncError else { finding("an error that is not an ImgsyncError: \(error)") }
    if let allowed, !allowed.contains(e.code) { finding("unexpected error class [\(e.code)]: \(e)") }
    let line = e.description
    if line.utf8.count > 3 * ImgsyncError.fieldLimit + 64 {
        finding("an error line of \(line.utf8.count) bytes")
    }
}

/// Behaviour that is no crash but worth a note (two engines disagreeing on a verdict): printed for the
/// first few inputs of a run, with the input in hex, so a fuzzing session can report it.
enum Disagreement {
    nonisolated(unsafe) private static var printed = 0

    static func report(_ what: String, _ payload: [UInt8]) {
        guard printed < 5 else { return }
        printed += 1
        let hex = payload.prefix(256).map { String($0, radix: 16) }.joined(separator: " ")
        printError("NOTE: \(what); payload (\(payload.count) bytes): \(hex)")
    }
}
