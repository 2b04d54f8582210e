import Testing
@testable import ImgsyncCore

/// Gzip members, headers, trailers, corruption and truncation, for both engines.
extension CompressionTests {
    @Test(arguments: gzipEngines, [F.Split.whole, .bytes, .random(seed: 3)])
    func multiMemberWithEveryHeaderField(engine: Engine, split: F.Split) throws {  // U134
        let first = F.data(count: 30_000, seed: 21)
        let second = F.data(count: 40_000, seed: 22)
        let third = F.data(count: 500, seed: 23)
        let input = F.gzip(first) + F.gzipWithAllHeaderFields(second) + F.gzip([]) + F.gzip(third, level: 9)
        #expect(try F.run(engine.make(), input, split: split) == first + second + third)
    }

    @Test(arguments: gzipEngines)
    func manyMembers(engine: Engine) throws {
        let parts = (0..<200).map { F.data(count: $0 * 37, seed: UInt64($0)) }
        let input = parts.flatMap { F.gzip($0) }
        #expect(try F.run(engine.make(), input, split: .random(seed: 9)) == parts.flatMap { $0 })
    }

    @Test(arguments: gzipEngines, [F.Split.whole, .bytes])
    func headerCRC16MismatchIsRejected(engine: Engine, split: F.Split) {
        let input = F.gzip([1, 2, 3]) + F.gzipWithAllHeaderFields(F.data(count: 1000, seed: 1), corruptHeaderCRC: true)
        let error = F.failure(engine.make(), input, split: split)
        #expect(error?.code == .decompress)
        #expect(error?.message.contains("member 2") == true)
    }

    @Test(arguments: gzipEngines)
    func reservedFlagBitsAreRejected(engine: Engine) {
        var input = F.gzip(F.data(count: 100, seed: 2))
        input[3] |= 0x20
        #expect(F.failure(engine.make(), input)?.code == .decompress)
    }

    @Test(arguments: gzipEngines, [F.Split.whole, .bytes])
    func trailerCRC32MismatchIsDecompressError(engine: Engine, split: F.Split) throws {  // U133 (a)
        let data = F.data(count: 20_000, seed: 31)
        let good = F.gzip(data)
        var bad = good
        bad[bad.count - 8] ^= 0x5a
        let error = try #require(F.failure(engine.make(), F.gzip([9]) + bad, split: split))
        #expect(error.code == .decompress)
        let computed = GzipMessages.hex(F.crc32(of: data))
        #expect(error.message.contains("member 2"))
        #expect(error.message.contains("CRC32 mismatch"))
        #expect(error.message.contains("computed \(computed)"))
        #expect(error.message.contains("stored \(GzipMessages.hex(F.crc32(of: data) ^ 0x5a))"))
    }

    @Test(arguments: gzipEngines, [F.Split.whole, .bytes])
    func trailerISIZEMismatchIsDecompressError(engine: Engine, split: F.Split) throws {  // U133 (a)
        let data = F.data(count: 20_000, seed: 32)
        var bad = F.gzip(data)
        bad[bad.count - 4] ^= 0x01
        let error = try #require(F.failure(engine.make(), bad, split: split))
        #expect(error.code == .decompress)
        #expect(error.message.contains("ISIZE mismatch (stored \(20_000 ^ 1), computed 20000"))
    }

    @Test(arguments: gzipEngines, [F.Split.whole, .random(seed: 4)])
    func corruptDeflateBlockMidStreamIsDecompressError(engine: Engine, split: F.Split) throws {  // U133 (b)
        let data = F.data(count: 200_000, seed: 33)
        let (deflated, flushOffset) = F.deflate(data, flushAt: 100_000)
        var body = deflated
        let blockStart = try #require(flushOffset)
        body[blockStart] = (body[blockStart] & 0xf8) | 0x06  // BFINAL 0, BTYPE 11: reserved, invalid
        let header: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]
        let input = header + body + F.trailer(crc: F.crc32(of: data), size: UInt32(data.count))
        var produced = [UInt8]()
        let error = #expect(throws: ImgsyncError.self) {
            try F.feed(engine.make(), input, split: split) { produced += $0 }
        }
        #expect(error?.code == .decompress)
        // Everything before the bad block decompressed correctly, nothing after it was produced.
        #expect(produced.count <= 100_000)
        #expect(produced == Array(data.prefix(produced.count)))
    }

    @Test(arguments: gzipEngines)
    func everyTruncationIsDetected(engine: Engine) throws {
        let member = F.gzipWithAllHeaderFields(F.data(count: 5000, seed: 34))
        let headerLength = 10 + 2 + 8 + 10 + 26 + 2
        // Cut points inside the header, the deflate data and the trailer.
        let cuts = [1, 2, 9, 10, 15, headerLength - 1, headerLength, headerLength + 1, member.count / 2,
                    member.count - 8, member.count - 5, member.count - 1]
        for cut in cuts {
            for input in [Array(member.prefix(cut)), F.gzip([7, 7, 7]) + member.prefix(cut)] {
                let error = F.failure(engine.make(), input, split: .random(seed: UInt64(cut)))
                #expect(error?.code == .truncated, "cut at \(cut) of \(member.count): \(String(describing: error))")
            }
        }
    }

    @Test(arguments: gzipEngines, [
        Array("trailing junk".utf8), [0, 0, 0, 0, 0, 0, 0, 0], [0x1f, 0x8c, 8, 0], [0x1f, 0x8b, 9, 0],
    ])
    func trailingJunkAfterAMemberIsDecompressError(engine: Engine, junk: [UInt8]) {
        let input = F.gzip(F.data(count: 3000, seed: 35)) + junk
        for split in [F.Split.whole, .bytes] {
            let error = F.failure(engine.make(), input, split: split)
            #expect(error?.code == .decompress, "\(split): \(String(describing: error))")
            if junk[..<2] != [0x1f, 0x8b] {
                #expect(error?.message.contains("gzip member 1 is followed by bytes that are not a gzip member") == true)
            }
        }
    }

    @Test(arguments: gzipEngines)
    func nonGzipInputIsDecompressError(engine: Engine) {
        let error = F.failure(engine.make(), F.zstd(F.data(count: 100, seed: 36)))
        #expect(error?.code == .decompress)
        #expect(error?.message.contains("not a gzip stream") == true)
    }
}
