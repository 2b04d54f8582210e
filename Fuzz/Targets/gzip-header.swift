@testable import ImgsyncCore

/// The gzip member header parser (magic, method, flags, FEXTRA, FNAME, FCOMMENT, FHCRC) fed the
/// payload in pieces. It must never claim more bytes than it was given, and the bytes it takes must
/// not depend on how the input was split.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGzipHeader(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = FuzzInput(data, size)
    func parse(_ pieces: [ArraySlice<UInt8>]) -> (used: Int, complete: Bool, error: String?) {
        var parser = GzipHeaderParser()
        var used = 0
        for piece in pieces {
            do {
                let n = try piece.withUnsafeBytes { try parser.consume($0, member: 1, offset: 0) }
                if n < 0 || n > piece.count { finding("consumed \(n) of \(piece.count) bytes") }
                used += n
                if parser.isComplete { return (used, true, nil) }
                if n < piece.count { finding("stopped after \(n) of \(piece.count) bytes without completing") }
            } catch {
                checkReported(error, allowed: [.decompress])
                return (used, false, "\(error)")
            }
        }
        return (used, false, nil)
    }
    let split = parse(input.pieces())
    let whole = parse(input.payload.isEmpty ? [] : [input.payload[...]])
    if split.complete != whole.complete || (split.complete && split.used != whole.used) || (split.error == nil) != (whole.error == nil) {
        finding("split input parsed as \(split), whole input as \(whole)")
    }
    return 0
}
