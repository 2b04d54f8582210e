/// GNU sparse files: the old `S` header map and the PAX 0.1 / 1.0 formats.
extension TarReader {
    func readOldGNUSparse() throws -> [(offset: Int64, length: Int64)] {
        var regions: [(offset: Int64, length: Int64)] = []
        func take(_ block: [UInt8], _ at: Int, _ count: Int) throws {
            for k in 0..<count {
                let base = at + k * 24
                if block[base] == 0 { return }
                let off = block.withUnsafeBytes { TarNumeric.parse(UnsafeRawBufferPointer(rebasing: $0[base..<(base + 12)])) }
                let len = block.withUnsafeBytes { TarNumeric.parse(UnsafeRawBufferPointer(rebasing: $0[(base + 12)..<(base + 24)])) }
                guard let off, let len, off >= 0, len >= 0 else { throw sparseError("malformed old GNU sparse map") }
                regions.append((off, len))
                if regions.count * 24 > limits.maxSparseMap {
                    throw ImgsyncError(.limit, "GNU sparse map exceeds the limit of \(limits.maxSparseMap) bytes", entry: currentName.escapedForDisplay)
                }
            }
        }
        let h = headerBytes
        try take(h, 386, 4)
        var extended = h[482] != 0
        var block = [UInt8](repeating: 0, count: 512)
        while extended {
            let got = try block.withUnsafeMutableBytes { try tarInput.read(into: $0) }
            if got < 512 { throw ImgsyncError(.truncated, "archive ends inside a GNU sparse extension block", entry: currentName.escapedForDisplay) }
            try take(block, 0, 21)
            extended = block[504] != 0
        }
        return regions
    }

    /// Reads the PAX 1.0 sparse map from the start of the entry's data.
    func readSparse10Map() throws -> [(offset: Int64, length: Int64)] {
        var consumed: Int64 = 0
        var line: [UInt8] = []
        var byte = [UInt8](repeating: 0, count: 1)
        func nextNumber() throws -> Int64 {
            line.removeAll(keepingCapacity: true)
            while true {
                let got = try byte.withUnsafeMutableBytes { try tarInput.read(into: $0) }
                if got == 0 { throw ImgsyncError(.truncated, "archive ends inside a GNU sparse map", entry: currentName.escapedForDisplay) }
                consumed += 1
                if consumed > Int64(limits.maxSparseMap) {
                    throw ImgsyncError(.limit, "GNU sparse map exceeds the limit of \(limits.maxSparseMap) bytes", entry: currentName.escapedForDisplay)
                }
                if byte[0] == 0x0A { break }
                line.append(byte[0])
            }
            guard let v = TarNumeric.parseDecimal(line[...]) else { throw sparseError("malformed GNU sparse 1.0 map") }
            return v
        }
        let count = try nextNumber()
        // The limit counts 24 bytes per region; divide rather than multiply a count the layer chose.
        if count > Int64(limits.maxSparseMap / 24) {
            throw ImgsyncError(.limit, "GNU sparse map with \(count) regions exceeds the limit of \(limits.maxSparseMap) bytes", entry: currentName.escapedForDisplay)
        }
        var regions: [(offset: Int64, length: Int64)] = []
        regions.reserveCapacity(Int(count))
        for _ in 0..<count {
            let off = try nextNumber()
            let len = try nextNumber()
            regions.append((off, len))
        }
        let pad = (512 - consumed % 512) % 512
        if try tarInput.skip(pad) < pad { throw ImgsyncError(.truncated, "archive ends inside a GNU sparse map", entry: currentName.escapedForDisplay) }
        consumedFromData(consumed + pad)
        return regions
    }

    func parseSparse01(_ map: [UInt8]) throws -> [(offset: Int64, length: Int64)] {
        let parts = map.split(separator: 0x2C, omittingEmptySubsequences: false)
        guard parts.count % 2 == 0 else { throw sparseError("malformed GNU.sparse.map") }
        var regions: [(offset: Int64, length: Int64)] = []
        var i = 0
        while i < parts.count {
            guard let off = TarNumeric.parseDecimal(parts[i]), let len = TarNumeric.parseDecimal(parts[i + 1]) else {
                throw sparseError("malformed GNU.sparse.map")
            }
            regions.append((off, len))
            i += 2
        }
        return regions
    }

    func validateSparse(_ regions: [(offset: Int64, length: Int64)], realSize: Int64) throws {
        var pos: Int64 = 0
        var total: Int64 = 0
        for r in regions {
            guard r.offset >= pos, r.length >= 0, r.offset <= realSize, r.length <= realSize - r.offset else {
                throw sparseError("GNU sparse regions overlap, are out of order or exceed the file size")
            }
            pos = r.offset + r.length
            total += r.length
        }
        guard total == dataRemaining else {
            throw sparseError("GNU sparse regions hold \(total) bytes but the entry stores \(dataRemaining)")
        }
    }

    private func sparseError(_ message: String) -> ImgsyncError {
        ImgsyncError(.tarFormat, message, entry: currentName.escapedForDisplay)
    }
}

enum PercentDecoding {
    static func decode(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        var i = bytes.startIndex
        while i < bytes.endIndex {
            if bytes[i] == 0x25 {
                guard i + 2 < bytes.endIndex, let h = hex(bytes[i + 1]), let l = hex(bytes[i + 2]) else { return nil }
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
}

enum Base64 {
    static func decode(_ bytes: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var acc: UInt32 = 0
        var bits = 0
        for c in bytes {
            let v: UInt32
            switch c {
            case 0x41...0x5A: v = UInt32(c - 0x41)
            case 0x61...0x7A: v = UInt32(c - 0x61 + 26)
            case 0x30...0x39: v = UInt32(c - 0x30 + 52)
            case 0x2B: v = 62
            case 0x2F: v = 63
            case 0x3D, 0x0A, 0x0D: continue
            default: return nil
            }
            acc = (acc << 6) | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((acc >> UInt32(bits)) & 0xFF))
            }
        }
        return out
    }
}
