import Foundation
import Testing
@testable import ImgsyncCore
import ImgsyncTestSupport

/// zstd inputs the fuzzer found that the issue did not list: libzstd's verdict on them depended on how
/// the blob was split into reads, so the same layer could apply on one run and fail on the next.
extension LayerHardeningTests {
    /// A pre-1.0 (v0.7) frame magic and a few zero bytes: libzstd's legacy decoder took it as a complete
    /// empty frame in one piece and failed on it in pieces.
    static let legacyFrame: [UInt8] = [0x27, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0, 0]
    /// An RFC 8878 frame declaring 32,868 bytes of content whose only block is an empty last raw block:
    /// corrupt in one piece, accepted as an empty frame in pieces of up to 10 bytes.
    static let contentSizeMismatch: [UInt8] = [0x28, 0xb5, 0x2f, 0xfd, 0x40, 0x64, 0x64, 0x7e, 0x01, 0x00, 0x00]

    /// A frame of content size 0 whose last block is an RLE block of 0 bytes: accepted by libzstd's
    /// single-pass shortcut (the whole frame in one input), corrupt on its streaming path.
    static let emptyRLEBlock: [UInt8] = [0x28, 0xb5, 0x2f, 0xfd, 0x30, 0x00, 0x03, 0x00, 0x00, 0x30]

    /// A frame header with the reserved bit set (FHD ff): refused, except when libzstd's header loader
    /// got exactly 13 bytes in the first read, which took it as a complete frame.
    static let reservedBitHeader: [UInt8] = [0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff, 0xff, 0xff, 0x5d, 0xff, 0xff, 0xfe,
                                             0x40, 0x27, 0xb5, 0x2f, 0xfd, 0x64, 0x02, 0x00, 0x00, 0x00, 0x00]

    /// Feeds `blob` with a first read of `first` bytes, then pieces of `pieces` bytes.
    static func zstdVerdict(_ blob: [UInt8], first: Int, pieces: Int) -> ImgsyncError? {
        let decompressor = ZstdDecompressor()
        do {
            var start = 0
            while start < blob.count {
                let end = min(blob.count, start + (start == 0 ? first : pieces))
                try blob[start..<end].withUnsafeBytes { try decompressor.decompress($0) { _ in } }
                start = end
            }
            try decompressor.finish { _ in }
            return nil
        } catch let e as ImgsyncError {
            return e
        } catch {
            return ImgsyncError(.io, "\(error)")
        }
    }

    @Test(arguments: [1, 12, 13, 14, 17, 23])
    func zstdHeaderWithTheReservedBitIsRefusedWhateverTheFirstRead(_ first: Int) {
        for pieces in [1, 5, 100] {
            let e = Self.zstdVerdict(Self.reservedBitHeader, first: first, pieces: pieces)
            #expect(e?.code == .decompress, "first read \(first), then \(pieces): \(String(describing: e))")
        }
    }

    static func zstdVerdict(_ blob: [UInt8], pieces: Int) -> ImgsyncError? {
        zstdVerdict(blob, first: pieces, pieces: pieces)
    }

    @Test(arguments: [1, 3, 4, 100])
    func legacyZstdFrameIsRefusedWhateverTheSplit(_ pieces: Int) {
        let first = LayerCompressors.zstd(Array("tar".utf8))
        let afterAFrame = Self.zstdVerdict(first + Self.legacyFrame, pieces: pieces)
        #expect(afterAFrame?.code == .decompress, "\(String(describing: afterAFrame))")
        #expect(Self.zstdVerdict(Self.legacyFrame, pieces: pieces)?.code == .decompress)
    }

    @Test(arguments: [1, 3, 10, 100])
    func zstdFrameShorterThanItsDeclaredSizeIsRefusedWhateverTheSplit(_ pieces: Int) {
        let e = Self.zstdVerdict(Self.contentSizeMismatch, pieces: pieces)
        #expect(e?.code == .decompress, "\(String(describing: e))")
    }

    @Test(arguments: [1, 3, 9, 10, 100])
    func zstdVerdictOnAnEmptyRLEBlockDoesNotDependOnTheSplit(_ pieces: Int) {
        let e = Self.zstdVerdict(Self.emptyRLEBlock, pieces: pieces)
        #expect(e?.code == .decompress, "\(String(describing: e))")
    }

    @Test func zstdFramesWithTheirContentSizeStillDecode() throws {
        let data = CompressionFixtures.data(count: 300_000, seed: 3)
        let blob = LayerCompressors.zstd(data) + LayerCompressors.zstdSkippableFrame(payloadSize: 9) + LayerCompressors.zstd([])
        for pieces in [1, 7, 4096, blob.count] {
            var out: [UInt8] = []
            let decompressor = ZstdDecompressor()
            for start in stride(from: 0, to: blob.count, by: pieces) {
                try blob[start..<min(start + pieces, blob.count)].withUnsafeBytes { try decompressor.decompress($0) { out += $0 } }
            }
            try decompressor.finish { out += $0 }
            #expect(out == data, "pieces of \(pieces)")
        }
    }

    /// Found by ASan in the zstd target, in the byte-by-byte header feeding itself: when a frame's
    /// first bytes filled the output window and no input was left, the next call offered libzstd one
    /// byte past the end of the input. This frame's RLE block (65,632 bytes, not the last block) comes
    /// within its first 11 bytes, and the input ends there, inside a larger buffer whose next byte
    /// libzstd would then have taken.
    @Test func noReadPastTheInputWhenTheHeaderBytesFillTheWindow() throws {
        let frame: [UInt8] = [0x28, 0xb5, 0x2f, 0xfd, 0x64, 0xff, 0xff, 0x02, 0x03, 0x08, 0x07]
        let memory = frame + [0x01, 0x00, 0x00, 0x00]
        let decompressor = ZstdDecompressor(window: 1 << 16)
        var produced = 0
        try memory.withUnsafeBytes { all in
            try decompressor.decompress(UnsafeRawBufferPointer(rebasing: all[0..<frame.count])) { produced += $0.count }
        }
        #expect(produced == 65_632)
        #expect(throws: ImgsyncError.self) { try decompressor.finish { _ in } }
    }

    @Test func legacyZstdFrameInALayer() throws {
        let s = try LayerSandbox()
        let blob = LayerCompressors.zstd(TarBuilder.tar { $0.file("a", "a") }) + Self.legacyFrame
        s.expectFailure(.decompress, [blob], compression: .zstd)
    }
}
