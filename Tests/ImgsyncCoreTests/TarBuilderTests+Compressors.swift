import ImgsyncCore
import Testing
import ImgsyncTestSupport

/// `LayerCompressors` output decoded by zlib, libzstd and libarchive (docs/conformance.md U133–U135).
extension TarBuilderTests {
    static func sampleTar(bigBody: Bool = false) -> [UInt8] {
        var b = TarBuilder()
        b.dir("etc/")
        b.file("etc/config", "c")
        var rng = SplitMix64(seed: 7)
        let size = bigBody ? 1 << 20 : 40_000
        b.file("bin/tool", (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next() & 0x3F) }, mode: 0o755)
        b.symlink("bin/sh", target: "tool")
        for i in 0..<20 { b.file("usr/share/doc/f\(i)", String(repeating: "text \(i) ", count: 50)) }
        return b.build()
    }

    static func summary(_ entries: [LibarchiveListing.Entry]) -> [[UInt8]] {
        entries.map { $0.name + [0] + $0.data }
    }

    @Test func gzipRoundTrips() throws {
        for (tar, level) in [(Self.sampleTar(), Int32(6)), (Self.sampleTar(bigBody: true), 1), ([UInt8](), 9)] {
            let gz = LayerCompressors.gzip(tar, level: level)
            #expect(Array(gz.prefix(3)) == [0x1F, 0x8B, 0x08])
            #expect(try StreamDecoders.gunzip(gz) == tar)
            if !tar.isEmpty {
                let listing = LibarchiveListing.read(gz)
                #expect(listing.error == nil && listing.filterNames.contains("gzip"))
                #expect(Self.summary(listing.entries) == Self.summary(try LibarchiveListing.entries(tar)))
            }
        }
    }

    @Test func gzipMemberWritesEveryHeaderFlag() throws {
        let data = Self.sampleTar()
        let member = LayerCompressors.gzipMember(data, extra: [0x41, 0x42, 0x02, 0x00, 0x07, 0x08],
                                                 fileName: Array("layer.tar".utf8), comment: Array("hi".utf8),
                                                 headerCRC: true, mtime: 0x0102_0304)
        #expect(Array(member.prefix(10)) == [0x1F, 0x8B, 0x08, 0x1E, 0x04, 0x03, 0x02, 0x01, 0x00, 0x03])
        #expect(Array(member[10..<18]) == [0x06, 0x00, 0x41, 0x42, 0x02, 0x00, 0x07, 0x08])
        #expect(Array(member[18..<28]) == Array("layer.tar\0".utf8))
        #expect(Array(member[28..<31]) == Array("hi\0".utf8))
        let crc = LayerCompressors.crc32(of: Array(member[0..<31]))
        #expect(Array(member[31..<33]) == [UInt8(crc & 0xFF), UInt8((crc >> 8) & 0xFF)])
        let size = UInt32(data.count)
        #expect(Array(member.suffix(4)) == [UInt8(size & 0xFF), UInt8((size >> 8) & 0xFF), UInt8(size >> 16), 0])
        #expect(try StreamDecoders.gunzip(member) == data)

        // zlib checks FHCRC: a changed name byte fails only when the header CRC is present.
        var badName = member
        badName[20] ^= 0x20
        #expect(throws: StreamDecoders.DecodeError.self) { try StreamDecoders.gunzip(badName) }
        var plain = LayerCompressors.gzipMember(data, fileName: Array("layer.tar".utf8))
        #expect(plain[3] == 0x08)
        plain[12] ^= 0x20
        #expect(try StreamDecoders.gunzip(plain) == data)
        // and the trailer CRC32
        var badTrailer = member
        badTrailer[badTrailer.count - 8] ^= 0x01
        #expect(throws: StreamDecoders.DecodeError.self) { try StreamDecoders.gunzip(badTrailer) }
    }

    @Test func twoMemberGzipDecodesToTheWholeTar() throws {
        let tar = Self.sampleTar()
        let cut = tar.count * 4 / 10
        let blob = LayerCompressors.gzip(Array(tar[..<cut]))
            + LayerCompressors.gzipMember(Array(tar[cut...]), extra: [1, 2, 3, 4], fileName: Array("part2".utf8),
                                          comment: Array("second member".utf8), headerCRC: true)
        #expect(try StreamDecoders.gunzip(blob) == tar)
        let listing = LibarchiveListing.read(blob)
        #expect(listing.error == nil)
        #expect(Self.summary(listing.entries) == Self.summary(try LibarchiveListing.entries(tar)))
        #expect(listing.entries.count == 24)
    }

    @Test func zstdRoundTripsWithAndWithoutChecksum() throws {
        let tar = Self.sampleTar(bigBody: true)
        let checked = LayerCompressors.zstd(tar)
        let unchecked = LayerCompressors.zstd(tar, level: 1, checksum: false)
        #expect(Array(checked.prefix(4)) == [0x28, 0xB5, 0x2F, 0xFD])
        #expect(checked[4] & 0x04 == 0x04 && unchecked[4] & 0x04 == 0)  // Content_Checksum_flag
        #expect(try StreamDecoders.unzstd(checked) == tar)
        #expect(try StreamDecoders.unzstd(unchecked) == tar)
        let listing = LibarchiveListing.read(checked)
        #expect(listing.error == nil && listing.filterNames.contains("zstd"))
        #expect(Self.summary(listing.entries) == Self.summary(try LibarchiveListing.entries(tar)))

        var corrupt = checked
        corrupt[corrupt.count - 1] ^= 0xFF
        #expect(throws: StreamDecoders.DecodeError.self) { try StreamDecoders.unzstd(corrupt) }
        #expect(try StreamDecoders.unzstd(LayerCompressors.zstd([])) == [])
    }

    @Test func zstdSkippableFramesAndSeveralFrames() throws {
        let head = LayerCompressors.zstdSkippableFrame(payloadSize: 64)
        let tail = LayerCompressors.zstdSkippableFrame(payloadSize: 16, magicNibble: 0xF)
        #expect(head.count == 72 && Array(head.prefix(8)) == [0x50, 0x2A, 0x4D, 0x18, 64, 0, 0, 0])
        #expect(Array(tail.prefix(8)) == [0x5F, 0x2A, 0x4D, 0x18, 16, 0, 0, 0])
        #expect(Array(head.suffix(3)) == [61, 62, 63])

        let tar = Self.sampleTar()
        let half = tar.count / 2
        let blob = head + LayerCompressors.zstd(Array(tar[..<half])) + LayerCompressors.zstd(Array(tar[half...])) + tail
        #expect(try StreamDecoders.unzstd(blob) == tar)
        let listing = LibarchiveListing.read(blob)
        #expect(listing.error == nil)
        #expect(Self.summary(listing.entries) == Self.summary(try LibarchiveListing.entries(tar)))
    }

    @Test func emptyLayersHaveTheWellKnownDigests() throws {
        let emptyTar = TarBuilder.tar { _ in }
        #expect(emptyTar == [UInt8](repeating: 0, count: 1024))
        #expect(SHA256Hasher.hash(emptyTar).hex == "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef")
        let gz = LayerCompressors.canonicalEmptyGzipLayer
        #expect(SHA256Hasher.hash(gz).hex == "a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4")
        #expect(try StreamDecoders.gunzip(gz) == emptyTar)
        #expect(LibarchiveListing.read(gz).error == nil)
    }
}
