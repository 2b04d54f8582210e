import Foundation
import Testing
@testable import ImgsyncCore
import ImgsyncTestSupport

/// Corrupt deflate data on which ISA-L gives back more input than it was offered (issue 8, item 1):
/// once `Range requires lowerBound <= upperBound` in the gzip decompressor; zlib says "invalid
/// distance too far back".
extension LayerHardeningTests {
    /// Found by fuzzing ISA-L alone: a fixed-Huffman block whose first symbols reach back before the
    /// start of the data. Offered exactly 16 bytes of it in one call, `isal_inflate` fails with
    /// ISAL_INVALID_LOOKBACK and sets avail_in to 2^32 − 1 (it gives back more bits than it read).
    static let deflateGivingBackTooMuch: [UInt8] = [0x42, 0x00] + [UInt8](repeating: 0x63, count: 30)
    static let gzipHeader: [UInt8] = [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]

    /// The header and the first 16 deflate bytes in one piece, the rest after.
    @Test(arguments: [GzipEngine.isal, .zlib])
    func isalGivingBackMoreInputThanOfferedIsADecompressError(_ engine: GzipEngine) {
        let stream = Self.gzipHeader + Self.deflateGivingBackTooMuch
        let decompressor = makeDecompressor(.gzip, gzipEngine: engine)
        do {
            for piece in [stream[..<26], stream[26...]] {
                try piece.withUnsafeBytes { try decompressor.decompress($0) { _ in } }
            }
            try decompressor.finish { _ in }
            Issue.record("decompressed")
        } catch let e as ImgsyncError {
            #expect(e.code == .decompress, "\(e)")
            #expect(e.message.contains("back-reference") || e.message.contains("invalid"), "\(e)")
        } catch {
            Issue.record("\(error)")
        }
    }

    /// The same bytes fed every other way.
    @Test(arguments: [GzipEngine.isal, .zlib], [CompressionFixtures.Split.bytes, .whole, .random(seed: 8)])
    func backReferenceBeforeTheStartIsADecompressError(_ engine: GzipEngine, _ split: CompressionFixtures.Split) {
        let failure = CompressionFixtures.failure(makeDecompressor(.gzip, gzipEngine: engine),
                                                  Self.gzipHeader + Self.deflateGivingBackTooMuch, split: split)
        #expect(failure?.code == .decompress, "\(String(describing: failure))")
    }

    /// In a layer whose blob ends after those 16 bytes, so that the pipeline offers exactly them.
    @Test func backReferenceBeforeTheStartInALayer() throws {
        let s = try LayerSandbox()
        let blob = Self.gzipHeader + Self.deflateGivingBackTooMuch.prefix(16)
        s.expectFailure(.decompress, [blob], compression: .gzip)
    }
}
