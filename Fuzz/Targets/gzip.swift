@testable import ImgsyncCore
import CImgsyncZlib

/// Both gzip engines on the same bytes: ISA-L (our header parser plus `isal_inflate`) and zlib. Each is
/// fed the payload in pieces. Neither may crash; when both accept the stream they must produce the
/// same bytes, and an engine must give the same verdict whatever the split (bit 0 of the options
/// chooses which engine is split, the other gets the payload whole).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGzip(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = FuzzInput(data, size)
    func run(_ engine: GzipEngine, _ pieces: [ArraySlice<UInt8>]) -> (crc: UInt, count: Int, ok: Bool) {
        let decompressor = makeDecompressor(.gzip, gzipEngine: engine, window: 64 << 10)
        var crc: UInt = 0
        var count = 0
        struct Enough: Error {}
        let sink: (UnsafeRawBufferPointer) throws -> Void = { out in
            count += out.count
            if count > FuzzLimits.output { throw Enough() }
            crc = crc32(crc, out.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt32(out.count))
        }
        do {
            for piece in pieces { try piece.withUnsafeBytes { try decompressor.decompress($0, output: sink) } }
            try decompressor.finish(output: sink)
            return (crc, count, true)
        } catch is Enough {
            return (crc, count, false)
        } catch {
            checkReported(error, allowed: [.decompress, .truncated])
            return (crc, count, false)
        }
    }
    let whole = input.payload.isEmpty ? [] : [input.payload[...]]
    let split = input.pieces()
    let isal = run(.isal, input.flag(0) ? split : whole)
    let zlib = run(.zlib, input.flag(0) ? whole : split)
    if isal.ok && zlib.ok && (isal.crc != zlib.crc || isal.count != zlib.count) {
        finding("ISA-L and zlib decoded the same stream differently: \(isal) vs \(zlib)")
    }
    if isal.count <= FuzzLimits.output && zlib.count <= FuzzLimits.output && isal.ok != zlib.ok {
        // Not a crash, but worth knowing: print it once per process for the fuzzing notes.
        Disagreement.report("isal ok=\(isal.ok) count=\(isal.count), zlib ok=\(zlib.ok) count=\(zlib.count)", input.payload)
    }
    let again = run(.isal, input.flag(0) ? whole : split)
    if again.ok != isal.ok || (again.ok && (again.crc != isal.crc || again.count != isal.count)) {
        finding("ISA-L gave \(isal) on one split and \(again) on another")
    }
    return 0
}
