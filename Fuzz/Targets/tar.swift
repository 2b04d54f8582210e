@testable import ImgsyncCore

/// The tar reader on any bytes: ustar, PAX (records, sizes, times, xattrs), GNU long names and links,
/// the three sparse formats. Option bits: 0 skips header checksums (so mutations reach what follows
/// them), 1–2 choose how bodies are read (skipped, as one stream with zeros for holes, or as data and
/// holes), 5–7 the chunk size. Beyond "no crash": a regular entry delivers exactly its size, holes
/// are never empty, sparse regions ascend inside the real size, and errors are bounded lines.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTar(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = FuzzInput(data, size)
    let reader = TarReader(source: input.chunkSource(), limits: FuzzLimits.layer)
    reader.verifiesChecksums = !input.flag(0)
    do {
        while let entry = try reader.next() {
            if entry.size < 0 { finding("entry with negative size \(entry.size)") }
            if let regions = entry.sparse {
                var end: Int64 = 0
                for r in regions {
                    if r.offset < end || r.length < 0 || r.length > entry.size - r.offset {
                        finding("sparse region \(r) out of order or outside \(entry.size)")
                    }
                    end = r.offset + r.length
                }
            }
            guard entry.kind == .regular else { continue }
            var delivered: Int64 = 0
            switch (input.options >> 1) & 3 {
            case 0:
                try reader.skipBody()
                continue
            case 1:
                try reader.readBody { delivered += Int64($0.count) }
            default:
                try reader.readBody(data: { delivered += Int64($0.count) }, hole: { length in
                    if length <= 0 { finding("a hole of \(length) bytes") }
                    delivered += length
                })
            }
            if delivered != entry.size { finding("body of \(delivered) bytes for an entry of \(entry.size)") }
        }
        try reader.drain()
        if reader.expandedBytes > FuzzLimits.layer.maxLayerBytes + Int64(input.payload.count) {
            finding("expanded size \(reader.expandedBytes) passed the limit")
        }
    } catch {
        checkReported(error, allowed: [.tarFormat, .truncated, .limit])
    }
    return 0
}
