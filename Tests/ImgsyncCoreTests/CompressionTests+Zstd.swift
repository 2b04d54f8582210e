import Testing
@testable import ImgsyncCore

/// zstd frames, skippable frames, checksums, corruption and truncation.
extension CompressionTests {
    @Test(arguments: [F.Split.whole, .bytes, .random(seed: 6)])
    func skippableFramesAroundTwoFrames(split: F.Split) throws {  // U135
        let first = F.data(count: 70_000, seed: 41)
        let second = F.data(count: 30_000, seed: 42)
        let input = F.skippableFrame(nibble: 0, payload: 64) + F.zstd(first) + F.zstdStreamed(second, checksum: false)
            + F.skippableFrame(nibble: 0xf, payload: 64)
        #expect(try F.run(makeDecompressor(.zstd), input, split: split) == first + second)
    }

    @Test func onlySkippableFramesGiveNoOutput() throws {
        let input = F.skippableFrame(nibble: 5, payload: 0) + F.skippableFrame(nibble: 9, payload: 1000)
        #expect(try F.run(makeDecompressor(.zstd), input, split: .bytes).isEmpty)
    }

    @Test(arguments: [F.Split.whole, .bytes])
    func badContentChecksumIsDecompressError(split: F.Split) throws {  // U133 (c)
        var frame = F.zstd(F.data(count: 50_000, seed: 43), checksum: true)
        frame[frame.count - 2] ^= 0xff  // inside the 4-byte XXH64 content checksum
        let error = try #require(F.failure(makeDecompressor(.zstd), F.zstd([1, 2]) + frame, split: split))
        #expect(error.code == .decompress)
        #expect(error.message.contains("frame 2"))
        #expect(error.message.contains("checksum"))
    }

    @Test func corruptBlockIsDecompressError() {
        var frame = F.zstd(F.data(count: 50_000, seed: 44), checksum: false)
        for index in stride(from: 20, to: frame.count - 20, by: 7) { frame[index] ^= 0xa5 }
        #expect(F.failure(makeDecompressor(.zstd), frame)?.code == .decompress)
    }

    @Test func everyTruncationIsDetected() {
        let frame = F.zstd(F.data(count: 50_000, seed: 45))
        let skippable = F.skippableFrame(nibble: 1, payload: 64)
        var inputs = [1, 3, 4, 5, 6, frame.count / 2, frame.count - 4, frame.count - 1].map { Array(frame.prefix($0)) }
        inputs += [1, 4, 7, 8, 40, 71].map { F.zstd([5]) + skippable.prefix($0) }
        for input in inputs {
            let error = F.failure(makeDecompressor(.zstd), input, split: .random(seed: UInt64(input.count)))
            #expect(error?.code == .truncated, "\(input.count) bytes: \(String(describing: error))")
        }
    }

    @Test func trailingJunkAfterAFrameIsDecompressError() {
        let input = F.zstd(F.data(count: 1000, seed: 46)) + Array("not a zstd frame".utf8)
        let error = F.failure(makeDecompressor(.zstd), input)
        #expect(error?.code == .decompress)
    }

    @Test func gzipInputIsDecompressError() {
        #expect(F.failure(makeDecompressor(.zstd), F.gzip(F.data(count: 100, seed: 47)))?.code == .decompress)
    }
}
