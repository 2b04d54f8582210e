/// Fills generated file bodies from a seed, fast enough for gigabyte layers.
enum BodySynthesizer {
    private static let words: [[UInt8]] = [
        "the", "of", "and", "to", "in", "is", "for", "that", "with", "on", "as", "are", "this", "be", "by",
        "from", "int", "char", "void", "return", "if", "else", "while", "struct", "static", "const",
        "unsigned", "long", "size_t", "NULL", "include", "define", "lib", "usr", "share", "doc", "man",
        "bin", "etc", "error", "value", "buffer", "length", "data", "file", "path", "name", "type",
        "0x00", "0xff", "{", "}", "(", ")", ";", "=", "==", "->", "/*", "*/", "#", "\n", "\t", "  ",
    ].map { Array($0.utf8) }

    static func body(size: Int, seed: UInt64, content: BodyContent) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        return [UInt8](unsafeUninitializedCapacity: size) { buf, count in
            var i = 0
            while i < size {
                let run = min(1024, size - i)
                switch content {
                case .zeros: fillZeros(buf, i, run)
                case .random: fillRandom(buf, i, run, &rng)
                case .text: fillText(buf, i, run, &rng)
                case .mixed: if (i / 1024) % 3 == 0 { fillRandom(buf, i, run, &rng) } else { fillText(buf, i, run, &rng) }
                }
                i += run
            }
            count = size
        }
    }

    private static func fillZeros(_ buf: UnsafeMutableBufferPointer<UInt8>, _ start: Int, _ n: Int) {
        for k in start..<(start + n) { buf[k] = 0 }
    }

    private static func fillRandom(_ buf: UnsafeMutableBufferPointer<UInt8>, _ start: Int, _ n: Int,
                                   _ rng: inout SplitMix64) {
        var k = start
        let end = start + n
        while k < end {
            var word = rng.next()
            for _ in 0..<min(8, end - k) {
                buf[k] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                k += 1
            }
        }
    }

    private static func fillText(_ buf: UnsafeMutableBufferPointer<UInt8>, _ start: Int, _ n: Int,
                                 _ rng: inout SplitMix64) {
        var k = start
        let end = start + n
        while k < end {
            var bits = rng.next()
            for _ in 0..<10 where k < end {
                let word = words[Int(bits & 63)]
                bits >>= 6
                for b in word where k < end {
                    buf[k] = b
                    k += 1
                }
                if k < end {
                    buf[k] = 0x20
                    k += 1
                }
            }
        }
    }
}
