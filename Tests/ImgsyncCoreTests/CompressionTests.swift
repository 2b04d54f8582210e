import Testing
@testable import ImgsyncCore

/// Decompressors, magic-byte sniffing and layer media types (docs/conformance.md D10, U128–U137).
/// Inputs are built with zlib and libzstd directly (`CompressionFixtures`).
@Suite struct CompressionTests {
    typealias F = CompressionFixtures

    enum Engine: String, CaseIterable, CustomStringConvertible, Sendable {
        case isal, zlib, zstd, passthrough
        var description: String { rawValue }

        func make(window: Int = 1 << 20) -> any Decompressor {
            switch self {
            case .isal: makeDecompressor(.gzip, gzipEngine: .isal, window: window)
            case .zlib: makeDecompressor(.gzip, gzipEngine: .zlib, window: window)
            case .zstd: makeDecompressor(.zstd, window: window)
            case .passthrough: makeDecompressor(.none, window: window)
            }
        }

        func compress(_ data: [UInt8]) -> [UInt8] {
            switch self {
            case .isal, .zlib: F.gzip(data)
            case .zstd: F.zstd(data)
            case .passthrough: data
            }
        }
    }

    static let gzipEngines: [Engine] = [.isal, .zlib]

    @Test func factoryPicksTheEngine() {
        #expect(makeDecompressor(.none) is PassthroughDecompressor)
        #expect(makeDecompressor(.gzip) is GzipDecompressor)
        #expect(makeDecompressor(.gzip, gzipEngine: .zlib) is ZlibGzipDecompressor)
        #expect(makeDecompressor(.zstd) is ZstdDecompressor)
    }

    @Test(arguments: Engine.allCases, [0, 1, 1000, 65_539, 3 * (1 << 20) + 12_345])
    func roundTrip(engine: Engine, size: Int) throws {
        let original = F.data(count: size, seed: UInt64(size) + 1)
        let output = try F.run(engine.make(), engine.compress(original))
        #expect(output.count == original.count)
        #expect(output == original)
    }

    @Test(arguments: Engine.allCases)
    func emptyInputProducesNothing(engine: Engine) throws {
        #expect(try F.run(engine.make(), []).isEmpty)
    }

    @Test(arguments: Engine.allCases, [F.Split.bytes, .random(seed: 1), .random(seed: 2)])
    func anySplitGivesTheWholeBufferOutput(engine: Engine, split: F.Split) throws {
        let original = F.data(count: 150_000, seed: 7)
        let input: [UInt8]
        switch engine {
        case .isal, .zlib:
            // Three members, one with every optional header field, so splits land inside headers and trailers.
            input = F.gzip(Array(original[..<50_000])) + F.gzipWithAllHeaderFields(Array(original[50_000..<100_000]))
                + F.gzip(Array(original[100_000...]), level: 1)
        case .zstd:
            input = F.zstd(Array(original[..<50_000])) + F.skippableFrame(nibble: 3, payload: 5)
                + F.zstdStreamed(Array(original[50_000...]))
        case .passthrough:
            input = original
        }
        let whole = try F.run(engine.make(), input, split: .whole)
        let pieces = try F.run(engine.make(), input, split: split)
        #expect(whole == original)
        #expect(pieces == whole)
    }

    @Test(arguments: Engine.allCases, [1, 7, 4096])
    func smallWindowsBoundOutputChunks(engine: Engine, window: Int) throws {
        let original = F.data(count: 40_000, seed: 11)
        // `run` records an issue when a chunk exceeds the window.
        let output = try F.run(engine.make(window: window), engine.compress(original), split: .random(seed: 5), window: window)
        #expect(output == original)
    }

    @Test(arguments: [Engine.isal, .zlib, .zstd])
    func errorsAreSticky(engine: Engine) throws {
        let decompressor = engine.make()
        let junk = Array("this is not compressed data at all".utf8)
        let first = F.failure(decompressor, junk)
        #expect(first?.code == .decompress)
        let again = #expect(throws: ImgsyncError.self) {
            try decompressor.decompress(UnsafeRawBufferPointer(start: nil, count: 0)) { _ in }
            try decompressor.finish { _ in }
        }
        #expect(again?.code == .decompress)
    }
}
