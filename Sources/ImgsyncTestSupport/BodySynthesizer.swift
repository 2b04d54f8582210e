#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fills generated file bodies from a seed with bulk stores and copies, fast enough for gigabyte
/// layers (and tolerable in debug builds).
enum BodySynthesizer {
    private static let words: [String] = [
        "the", "of", "and", "to", "in", "is", "for", "that", "with", "on", "as", "are", "this", "be", "by",
        "from", "int", "char", "void", "return", "if", "else", "while", "struct", "static", "const",
        "unsigned", "long", "size_t", "NULL", "include", "define", "lib", "usr", "share", "doc", "man",
        "bin", "etc", "error", "value", "buffer", "length", "data", "file", "path", "name", "type",
        "0x00", "0xff", "{", "}", "(", ")", ";", "=", "==", "->", "/*", "*/", "#", "\n", "\t", "  ",
    ]

    /// All 4096 two-word phrases ("w1 w2 "), packed; phrase `k` starts at `phraseStart[k]`.
    private static let phrases: (bytes: [UInt8], start: [Int]) = {
        var bytes: [UInt8] = []
        var start: [Int] = []
        for a in words {
            for b in words {
                start.append(bytes.count)
                bytes += Array("\(a) \(b) ".utf8)
            }
        }
        start.append(bytes.count)
        return (bytes, start)
    }()

    static func body(size: Int, seed: UInt64, content: BodyContent) -> [UInt8] {
        guard size > 0 else { return [] }
        var rng = SplitMix64(seed: seed)
        return [UInt8](unsafeUninitializedCapacity: size) { buf, count in
            let base = UnsafeMutableRawPointer(buf.baseAddress!)
            switch content {
            case .zeros: memset(base, 0, size)  // a generic initializeMemory is per-byte in debug builds
            case .random: fillRandom(base, size, &rng)
            case .text: fillText(base, size, &rng)
            case .mixed:
                // 1 KiB runs: random, text, text, random, …
                var i = 0
                while i < size {
                    let run = min(1024, size - i)
                    if (i / 1024) % 3 == 0 { fillRandom(base + i, run, &rng) } else { fillText(base + i, run, &rng) }
                    i += run
                }
            }
            count = size
        }
    }

    private static func fillRandom(_ p: UnsafeMutableRawPointer, _ n: Int, _ rng: inout SplitMix64) {
        var k = 0
        while k + 8 <= n {
            p.storeBytes(of: rng.next(), toByteOffset: k, as: UInt64.self)
            k += 8
        }
        var word = rng.next()
        while k < n {
            p.storeBytes(of: UInt8(truncatingIfNeeded: word), toByteOffset: k, as: UInt8.self)
            word >>= 8
            k += 1
        }
    }

    private static func fillText(_ p: UnsafeMutableRawPointer, _ n: Int, _ rng: inout SplitMix64) {
        phrases.bytes.withUnsafeBytes { table in
            phrases.start.withUnsafeBufferPointer { start in
                var k = 0
                while k < n {
                    var bits = rng.next()
                    for _ in 0..<5 where k < n {
                        let phrase = Int(bits & 0xFFF)
                        bits >>= 12
                        let from = start[phrase]
                        let length = min(start[phrase + 1] - from, n - k)
                        (p + k).copyMemory(from: table.baseAddress! + from, byteCount: length)
                        k += length
                    }
                }
            }
        }
    }
}
