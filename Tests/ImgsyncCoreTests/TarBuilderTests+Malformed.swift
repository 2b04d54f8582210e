import Testing
import ImgsyncTestSupport

/// Numeric encodings, declared sizes, checksums, typeflags and stream ends
/// (docs/conformance.md U6, U29, U30, U112, U120, U130–U132, U138).
extension TarBuilderTests {
    @Test func base256ForValuesOctalCannotHold() throws {
        var b = TarBuilder()
        b.file("old", "o", mtime: -86_400)
        b.file("far", "f", mtime: 1 << 33)
        b.file("uid", "u", uid: 1 << 40)
        b.blockDevice("x", major: 1 << 32, minor: 5)
        var y = TarEntry("y", typeflag: TarTypeflag.charDevice)
        y.devMinor = -1
        b.entry(y)
        let bytes = b.build()

        let old = RawTarHeader(bytes, at: 0).field(136, 12)
        #expect(old == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xAE, 0x80])  // -86400
        #expect(RawTarHeader(bytes, at: 1024).field(136, 12) == [0x80, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0])
        #expect(RawTarHeader(bytes, at: 3072).field(329, 8) == [0x80, 0, 0, 0x01, 0, 0, 0, 0])
        #expect(RawTarHeader(bytes, at: 3072).field(337, 8) == Array("0000005\0".utf8))
        #expect(RawTarHeader(bytes, at: 3584).field(337, 8) == [UInt8](repeating: 0xFF, count: 8))
        #expect(RawTarHeader(bytes, at: 2048).field(108, 8) == [0x80, 0, 0x01, 0, 0, 0, 0, 0])

        let entries = try LibarchiveListing.entries(bytes)
        #expect(entries.map(\.mtime).prefix(2) == [-86_400, 1 << 33])
        #expect(entries[2].uid == 1 << 40)
        #expect(entries[3].kind == .blockDevice && entries[3].devMajor == 1 << 32 && entries[3].devMinor == 5)
        #expect(entries[4].devMinor == UInt64.max)  // -1 read back through dev_t
    }

    @Test func explicitNumberEncodings() {
        var e = TarEntry("n", typeflag: TarTypeflag.regular)
        e.overrides.mode = .base256(0o644)
        e.overrides.uid = .raw(Array("7 ".utf8))
        e.overrides.mtime = .octal(1)
        e.overrides.size = .base256Unsigned(UInt64(Int64.max) + 10)
        var b = TarBuilder()
        b.entry(e)
        let h = RawTarHeader(b.build(), at: 0)
        #expect(h.field(100, 8) == [0x80, 0, 0, 0, 0, 0, 0x01, 0xA4])
        #expect(h.field(108, 8) == [0x37, 0x20, 0, 0, 0, 0, 0, 0])
        #expect(h.field(136, 12) == Array("00000000001\0".utf8))
        #expect(h.field(124, 12) == [0x80, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0x09])
    }

    @Test func declaredSizesIndependentOfTheData() throws {
        func big(_ size: TarNumber, complete: Bool = false) -> [UInt8] {
            var b = TarBuilder()
            b.file("ok", "1")
            var e = TarEntry("big", typeflag: TarTypeflag.regular, body: "0123456789")
            e.overrides.size = size
            e.overrides.padBody = complete
            b.entry(e)
            return b.build(zeroBlocks: complete ? 2 : 0)
        }
        let huge = big(.base256(1 << 40))
        #expect(huge.count == 1024 + 512 + 10)
        let listing = LibarchiveListing.read(huge)
        #expect(listing.entries.map(\.name) == [Array("ok".utf8), Array("big".utf8)])
        #expect(listing.entries.last?.size == 1 << 40)
        #expect(listing.error == "Truncated tar archive")

        let truncated = LibarchiveListing.read(big(.octal(1000)))
        #expect(truncated.entries.last?.size == 1000 && truncated.entries.last?.data.count == 10)
        #expect(truncated.error != nil)
        #expect(LibarchiveListing.read(big(.base256Unsigned(UInt64(Int64.max) + 1))).error == "Tar entry size overflow")
        #expect(LibarchiveListing.read(big(.base256(-1))).error == "Tar entry has negative size")
        // The same entry with its true size, padded and terminated, reads cleanly.
        #expect(LibarchiveListing.read(big(.octal(10), complete: true)).error == nil)
        #expect(LibarchiveListing.read(big(.octal(10))).error != nil)  // the padding is missing
    }

    @Test func corruptedChecksumIsRejected() throws {
        func layer(_ checksum: TarChecksum?, first: Bool) -> [UInt8] {
            var b = TarBuilder()
            if !first { b.file("ok", "1") }
            var e = TarEntry("a", typeflag: TarTypeflag.regular, body: "a")
            e.overrides.checksum = checksum
            b.entry(e)
            b.file("after", "2")
            return b.build()
        }
        let clean = layer(nil, first: false)
        let corrupt = layer(.corrupt, first: false)
        #expect(RawTarHeader(corrupt, at: 1024).octal(148, 8) == Int64(RawTarHeader(clean, at: 1024).expectedChecksum + 1))
        #expect(try LibarchiveListing.entries(clean).count == 3)

        let second = LibarchiveListing.read(corrupt)
        #expect(second.names == [Array("ok".utf8)] && second.error == "Damaged tar archive")
        #expect(LibarchiveListing.read(layer(.corrupt, first: true)).error == "Unrecognized archive format")
        #expect(LibarchiveListing.read(layer(.value(0), first: false)).error == "Damaged tar archive")
        #expect(RawTarHeader(layer(.raw(Array("garbage!".utf8)), first: true), at: 0).field(148, 8) == Array("garbage!".utf8))
    }

    @Test func legacyAndUnusualTypeflags() throws {
        func layer(_ typeflag: UInt8, _ name: String, _ body: String) -> [UInt8] {
            var b = TarBuilder()
            b.entry(TarEntry(name, typeflag: typeflag, body: body))
            b.file("old/f", "1")
            return b.build()
        }
        let legacy = layer(TarTypeflag.legacyRegular, "old/", "")
        #expect(RawTarHeader(legacy, at: 0).typeflag == 0)
        #expect(try LibarchiveListing.entries(legacy).first?.kind == .directory)
        let contiguous = try LibarchiveListing.entries(layer(TarTypeflag.contiguous, "c", "c"))
        #expect(contiguous.first?.kind == .regular && contiguous.first?.data == [0x63])
        for typeflag in [TarTypeflag.gnuVolume, TarTypeflag.gnuMultiVolume, UInt8(ascii: "Z")] {
            #expect(RawTarHeader(layer(typeflag, "t", "c"), at: 0).typeflag == typeflag)
        }
        // libarchive: V fails, M is listed with no file type, Z is read as a regular file.
        #expect(LibarchiveListing.read(layer(TarTypeflag.gnuVolume, "t", "c")).error != nil)
        #expect(try LibarchiveListing.entries(layer(TarTypeflag.gnuMultiVolume, "t", "c")).first?.kind == .other(0))
        #expect(try LibarchiveListing.entries(layer(UInt8(ascii: "Z"), "t", "c")).first?.kind == .regular)
    }

    @Test func rawMagicNameAndLinkFields() throws {
        var e = TarEntry("logical-name-unused", typeflag: TarTypeflag.symlink)
        e.linkName = Array("logical-target-unused".utf8)
        e.overrides.nameField = Array("raw".utf8)
        e.overrides.linkNameField = Array("raw-target".utf8)
        e.overrides.magic = Array("ustar ".utf8)
        e.overrides.version = [0x20, 0]
        var b = TarBuilder()
        b.entry(e)
        let bytes = b.build()
        let h = RawTarHeader(bytes, at: 0)
        #expect(h.name == Array("raw".utf8) && h.linkName == Array("raw-target".utf8))
        #expect(h.magic == Array("ustar ".utf8) && h.version == [0x20, 0])
        let entries = try LibarchiveListing.entries(bytes)
        #expect(entries.first?.name == Array("raw".utf8) && entries.first?.link == Array("raw-target".utf8))
    }

    @Test func truncationInsideAHeader() {
        var b = TarBuilder()
        b.file("k", "k")
        b.file("next", "n")
        let cut = Array(b.build().prefix(1024 + 300))
        let listing = LibarchiveListing.read(cut)
        #expect(listing.names == [[0x6B]] && listing.error != nil)
    }
}
