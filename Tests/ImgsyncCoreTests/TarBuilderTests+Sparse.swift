import Testing
import ImgsyncTestSupport

/// GNU sparse 1.0 and old GNU `S` entries (docs/conformance.md U126, U127).
extension TarBuilderTests {
    static func region(_ offset: Int64, _ count: Int, _ byte: UInt8) -> (offset: Int64, bytes: [UInt8]) {
        (offset, (0..<count).map { UInt8(truncatingIfNeeded: $0) ^ byte })
    }

    static func expand(_ realSize: Int64, _ regions: [(offset: Int64, bytes: [UInt8])]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(realSize))
        for r in regions { out.replaceSubrange(Int(r.offset)..<(Int(r.offset) + r.bytes.count), with: r.bytes) }
        return out
    }

    @Test func gnuSparse1_0ExpandsToTheLogicalContent() throws {
        let size: Int64 = 64 << 20
        let regions = [Self.region(0, 4096, 0x11), Self.region(size - 4096, 4096, 0x22)]
        var b = TarBuilder()
        b.sparseFile("dir/sp", realSize: size, regions: regions)
        b.file("after", "z")
        let bytes = b.build()

        let headers = RawTarHeader.all(in: bytes)
        #expect(headers.map(\.typeflag) == [0x78, 0x30, 0x30])
        let records = String(decoding: headers[0].data(in: bytes), as: UTF8.self)
        #expect(records == "22 GNU.sparse.major=1\n22 GNU.sparse.minor=0\n26 GNU.sparse.name=dir/sp\n32 GNU.sparse.realsize=67108864\n")
        #expect(headers[1].name == Array("dir/GNUSparseFile.0/sp".utf8))
        #expect(headers[1].size == Int64(512 + 8192))
        let data = headers[1].data(in: bytes)
        let map = Array("2\n0\n4096\n67104768\n4096\n".utf8)
        #expect(Array(data.prefix(map.count)) == map && data[map.count..<512].allSatisfy { $0 == 0 })
        #expect(Array(data[512...]) == regions[0].bytes + regions[1].bytes)

        let entries = try LibarchiveListing.entries(bytes)
        try #require(entries.count == 2)
        #expect(entries[0].name == Array("dir/sp".utf8) && entries[0].size == size)
        #expect(entries[0].sparse == [.init(offset: 0, length: 4096), .init(offset: size - 4096, length: 4096)])
        #expect(entries[0].data == Self.expand(size, regions))
        #expect(entries[1].data == [0x7A])
    }

    @Test func oldGNUSparseInTheHeader() throws {
        let size: Int64 = 64 << 20
        let regions = [Self.region(0, 4096, 0x11), Self.region(size - 4096, 4096, 0x22)]
        var b = TarBuilder()
        b.sparseFile("sp", realSize: size, regions: regions, format: .oldGNU)
        let bytes = b.build()

        let h = RawTarHeader(bytes, at: 0)
        #expect(h.typeflag == TarTypeflag.gnuSparse && h.magic == Array("ustar ".utf8) && h.size == 8192)
        #expect(h.octal(386, 12) == 0 && h.octal(398, 12) == 4096)
        #expect(h.octal(410, 12) == size - 4096 && h.octal(422, 12) == 4096)
        #expect(h.field(434, 48).allSatisfy { $0 == 0 })
        #expect(h.field(482, 1) == [0] && h.octal(483, 12) == size)
        #expect(h.octal(148, 8) == Int64(h.expectedChecksum))

        let entries = try LibarchiveListing.entries(bytes)
        #expect(entries.map(\.name) == [Array("sp".utf8)])
        #expect(entries.first?.size == size && entries.first?.data == Self.expand(size, regions))
    }

    @Test func oldGNUSparseWithExtensionBlocks() throws {
        let regions = (0..<30).map { Self.region(Int64($0) * 3000, 100 + $0, UInt8($0)) }
        var b = TarBuilder()
        b.sparseFile("many", realSize: 100_000, regions: regions, format: .oldGNU)
        b.file("after", "z")
        let bytes = b.build()

        let h = RawTarHeader(bytes, at: 0)
        #expect(h.field(482, 1) == [1] && h.size == Int64(regions.map(\.bytes.count).reduce(0, +)))
        let first = RawTarHeader(bytes, at: 512)  // 21 regions, more follow
        #expect(first.octal(0, 12) == 4 * 3000 && first.octal(12, 12) == 104 && first.field(504, 1) == [1])
        let second = RawTarHeader(bytes, at: 1024)  // the last 5 regions
        #expect(second.octal(0, 12) == 25 * 3000 && second.octal(4 * 24, 12) == 29 * 3000)
        #expect(second.field(5 * 24, 24).allSatisfy { $0 == 0 } && second.field(504, 1) == [0])

        let entries = try LibarchiveListing.entries(bytes)
        try #require(entries.count == 2)
        #expect(entries[0].sparse.count == 30)
        #expect(entries[0].data == Self.expand(100_000, regions))
        #expect(entries[1].name == Array("after".utf8))
    }

    @Test func sparseMapLargerThanOneMiB() throws {
        var b = TarBuilder()
        b.sparseFile("bomb", regionCount: 200_000)
        b.file("after", "z")
        let bytes = b.build()

        let headers = RawTarHeader.all(in: bytes)
        #expect(headers.map(\.typeflag) == [0x78, 0x30, 0x30])
        let data = headers[1].data(in: bytes)
        var newlines = 0
        var mapLength = 0
        while newlines < 1 + 2 * 200_000 {
            if data[mapLength] == 0x0A { newlines += 1 }
            mapLength += 1
        }
        #expect(mapLength > 1 << 20)
        #expect(Array(data.prefix(7)) == Array("200000\n".utf8))

        let listing = LibarchiveListing.read(bytes, readData: false)
        #expect(listing.error == nil)
        #expect(listing.entries.first?.sparse.count == 200_000)
        #expect(listing.entries.first?.size == Int64(200_000 * 4096))
        #expect(listing.names.last == Array("after".utf8))
    }
}
