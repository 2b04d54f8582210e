/// Sparse files in GNU sparse 1.0 (PAX) and old GNU (`S`) form.
extension TarBuilder {
    /// A sparse regular file of logical size `realSize` whose data `regions` (offset, bytes) are stored
    /// and whose gaps are holes. Regions must be in increasing, non-overlapping order.
    public mutating func sparseFile(
        _ name: some TarBytesConvertible, realSize: Int64, regions: [(offset: Int64, bytes: [UInt8])],
        format: SparseFormat = .gnu1_0, mode: Int64 = 0o644, mtime: Int64 = TarBuilder.t0
    ) {
        let map = regions.map { (offset: $0.offset, size: Int64($0.bytes.count)) }
        let data = regions.flatMap(\.bytes)
        switch format {
        case .gnu1_0: sparse1_0(name.tarBytes, realSize: realSize, map: map, data: data, mode: mode, mtime: mtime)
        case .oldGNU: sparseOldGNU(name.tarBytes, realSize: realSize, map: map, data: data, mode: mode, mtime: mtime)
        }
    }

    /// A GNU sparse 1.0 file with `regionCount` one-byte regions `regionStride` apart, for map-size limit
    /// tests (200 000 regions give a map of about 2.4 MiB).
    public mutating func sparseFile(_ name: some TarBytesConvertible, regionCount: Int, regionStride: Int64 = 4096) {
        precondition(regionStride >= 1, "regions must not overlap")
        let map = (0..<Int64(regionCount)).map { (offset: $0 * regionStride, size: Int64(1)) }
        let data = (0..<regionCount).map { UInt8(truncatingIfNeeded: $0 | 1) }
        sparse1_0(name.tarBytes, realSize: Int64(regionCount) * regionStride, map: map, data: data,
                  mode: 0o644, mtime: Self.t0)
    }

    private mutating func sparse1_0(
        _ name: [UInt8], realSize: Int64, map: [(offset: Int64, size: Int64)], data: [UInt8],
        mode: Int64, mtime: Int64
    ) {
        var mapText = Array("\(map.count)\n".utf8)
        for region in map { mapText += Array("\(region.offset)\n\(region.size)\n".utf8) }
        let rest = mapText.count % Self.blockSize
        if rest != 0 { mapText += [UInt8](repeating: 0, count: Self.blockSize - rest) }

        // GNU tar names the ustar entry "<dir>/GNUSparseFile.<pid>/<base>"; readers use GNU.sparse.name.
        let slash = name.dropLast().lastIndex(of: 0x2F)
        let dir = slash.map { Array(name[...$0]) } ?? []
        let base = slash.map { Array(name[($0 + 1)...]) } ?? name
        var e = TarEntry(Array((dir + Array("GNUSparseFile.0/".utf8) + base).prefix(100)),
                         typeflag: TarTypeflag.regular, body: mapText + data)
        e.mode = mode
        e.mtime = mtime
        e.paxRecords = [
            PaxRecord("GNU.sparse.major", "1"), PaxRecord("GNU.sparse.minor", "0"),
            PaxRecord("GNU.sparse.name", name), PaxRecord("GNU.sparse.realsize", String(realSize)),
        ]
        entry(e)
    }

    private mutating func sparseOldGNU(
        _ name: [UInt8], realSize: Int64, map: [(offset: Int64, size: Int64)], data: [UInt8],
        mode: Int64, mtime: Int64
    ) {
        var e = TarEntry(name, typeflag: TarTypeflag.gnuSparse, body: data)
        e.mode = mode
        e.mtime = mtime
        e.longNameStyle = .gnu
        e.overrides.magic = TarHeaderBlock.gnuMagic
        e.overrides.version = TarHeaderBlock.gnuVersion

        let inHeader = map.prefix(4)
        var rest = Array(map.dropFirst(4))
        var blocks: [[UInt8]] = []
        while !rest.isEmpty {
            var block = TarHeaderBlock()
            for (i, region) in rest.prefix(21).enumerated() {
                block.setNumber(region.offset, (offset: i * 24, width: 12))
                block.setNumber(region.size, (offset: i * 24 + 12, width: 12))
            }
            rest = Array(rest.dropFirst(21))
            if !rest.isEmpty { block.set([1], (offset: 504, width: 1)) }
            blocks.append(block.bytes)
        }
        let extended = !blocks.isEmpty
        entry(e, patchHeader: { header in
            for (i, region) in inHeader.enumerated() {
                header.setNumber(region.offset, (offset: 386 + i * 24, width: 12))
                header.setNumber(region.size, (offset: 386 + i * 24 + 12, width: 12))
            }
            if extended { header.set([1], (offset: 482, width: 1)) }
            header.setNumber(realSize, (offset: 483, width: 12))
        }, extensionBlocks: blocks)
    }
}
