import Testing
import ImgsyncTestSupport

/// PAX extended and global headers, well-formed and malformed (docs/conformance.md U19, U23–U28, U119, U122–U125).
extension TarBuilderTests {
    @Test func paxRecordLengthsCountTheirOwnDigits() {
        for valueLength in 0...1100 {
            let record = PaxRecord("path", [UInt8](repeating: 0x61, count: valueLength))
            let encoded = record.encoded
            let digits = encoded.prefix { $0 != 0x20 }
            #expect(Int(String(decoding: digits, as: UTF8.self)) == encoded.count, "value length \(valueLength)")
            #expect(record.length == encoded.count)
        }
        #expect(PaxRecord("path", "x", declaredLength: 99).encoded == Array("99 path=x\n".utf8))
        for total in [12, 99, 100, 1000, 2 << 20] {
            #expect(PaxRecord.filler(totalLength: total).encoded.count == total)
        }
    }

    @Test func paxMtimeWithNanoseconds() throws {
        var b = TarBuilder()
        b.file("ns", "n", mtime: 1_700_000_000, mtimeNanoseconds: 123_456_789)
        b.pax([.mtime("1700000000.000000001")])
        b.file("raw", "r")
        b.dir("d/", mtime: Self.t0 + 1)
        let bytes = b.build()
        #expect(RawTarHeader(bytes, at: 0).data(in: bytes) == Array("30 mtime=1700000000.123456789\n".utf8))
        let entries = try LibarchiveListing.entries(bytes)
        #expect(entries.map(\.mtime) == [1_700_000_000, 1_700_000_000, Self.t0 + 1])
        #expect(entries.map(\.mtimeNanoseconds) == [123_456_789, 1, 0])

        #expect(PaxRecord.mtime(seconds: -2, nanoseconds: 500_000_000).value == Array("-1.500000000".utf8))
        #expect(PaxRecord.mtime(seconds: 5).value == Array("5".utf8))
    }

    @Test func paxXattrsInBothEncodings() throws {
        let selinux = Array("unconfined_u:object_r:default_t:s0\0".utf8)
        var b = TarBuilder()
        b.file("a", "v", xattrs: [
            .schily("user.key", "value"), .libarchive("user.sp ace", "val"), .schily("user.empty", ""),
            .libarchive("user.bin=%", [0, 1, 2, 255] as [UInt8]), .schily("security.selinux", selinux),
        ])
        b.dir("d/", xattrs: [.schily("user.dir", "1")])
        b.symlink("l", target: "a", xattrs: [.libarchive("user.x", "1")])
        let bytes = b.build()

        let records = RawTarHeader(bytes, at: 0).data(in: bytes)
        let text = String(decoding: records, as: UTF8.self)
        #expect(text.contains(" LIBARCHIVE.xattr.user.sp%20ace=dmFs\n"))
        #expect(text.contains(" LIBARCHIVE.xattr.user.bin%3D%25=AAEC/w\n"))
        #expect(text.contains(" SCHILY.xattr.user.empty=\n"))

        let entries = try LibarchiveListing.entries(bytes)
        try #require(entries.count == 3)
        #expect(entries[0].xattrs == [
            Array("user.key".utf8): Array("value".utf8), Array("user.sp ace".utf8): Array("val".utf8),
            Array("user.empty".utf8): [], Array("user.bin=%".utf8): [0, 1, 2, 255],
            Array("security.selinux".utf8): selinux,
        ])
        #expect(entries[1].xattrs == [Array("user.dir".utf8): Array("1".utf8)])
        #expect(entries[2].xattrs == [Array("user.x".utf8): Array("1".utf8)])
    }

    @Test func base64MatchesTheStandardAlphabetUnpadded() {
        let vectors = ["": "", "f": "Zg", "fo": "Zm8", "foo": "Zm9v", "foob": "Zm9vYg", "fooba": "Zm9vYmE", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(PaxRecord.libarchiveXattr("n", plain).value == Array(encoded.utf8))
        }
    }

    @Test func paxSizeOverridesTheUstarSize() throws {
        // U23: ustar size 0, PAX size 1536, the data is a complete header plus 1024 bytes.
        var inner = TarBuilder()
        inner.file("smuggled", [UInt8](repeating: 0x41, count: 1024))
        let smuggled = Array(inner.bytes.prefix(1536))
        var b = TarBuilder()
        b.pax([.size(1536)])
        var outer = TarEntry("outer", typeflag: TarTypeflag.regular, body: smuggled)
        outer.overrides.size = .octal(0)
        b.entry(outer)
        // U24: ustar size 10, PAX size 3, data "abc"; the next header follows after one block.
        b.pax([.size(3)])
        var a = TarEntry("a", typeflag: TarTypeflag.regular, body: "abc")
        a.overrides.size = .octal(10)
        b.entry(a)
        b.file("b", "b")
        let bytes = b.build()
        // x header + records, outer header + 3 data blocks, x header + records, then `a`
        #expect(RawTarHeader(bytes, at: 1024).name == Array("outer".utf8) && RawTarHeader(bytes, at: 1024).size == 0)
        #expect(RawTarHeader(bytes, at: 4096).name == [0x61] && RawTarHeader(bytes, at: 4096).size == 10)

        let entries = try LibarchiveListing.entries(bytes)
        #expect(entries.map(\.name) == ["outer", "a", "b"].map { Array($0.utf8) })
        #expect(entries[0].data == smuggled && entries[1].data == Array("abc".utf8) && entries[2].data == [0x62])
    }

    @Test func paxHeaderBeforeGnuLongNameAppliesToTheFile() throws {
        let name = Array(String(repeating: "longname", count: 20).utf8)
        var e = TarEntry(name, typeflag: TarTypeflag.regular, body: "hello")
        e.overrides.size = .octal(0)
        e.longNameStyle = .gnu
        var b = TarBuilder()
        b.pax([.size(5)])
        b.entry(e)
        let bytes = b.build()
        #expect(RawTarHeader.all(in: bytes).prefix(2).map(\.typeflag) == [0x78, 0x4C])
        let entries = try LibarchiveListing.entries(bytes)
        #expect(entries.map(\.name) == [name] && entries[0].data == Array("hello".utf8))
    }

    /// The kit writes malformed values verbatim; libarchive only rejects some of them (see the report).
    @Test func malformedPaxValuesAreWrittenVerbatim() throws {
        func layer(_ record: PaxRecord) -> [UInt8] {
            var b = TarBuilder()
            b.pax([record])
            b.file("x", "x")
            b.file("next", "n")
            return b.build()
        }
        let cases: [(PaxRecord, String)] = [
            (PaxRecord("size", "-1"), "11 size=-1\n"), (PaxRecord("size", "abc"), "12 size=abc\n"),
            (PaxRecord("mtime", "1e99"), "14 mtime=1e99\n"), (.path([0x61, 0, 0x62] as [UInt8]), "12 path=a\0b\n"),
            (PaxRecord("path", "xyz", declaredLength: 99), "99 path=xyz\n"),
        ]
        for (record, expected) in cases {
            let bytes = layer(record)
            #expect(RawTarHeader(bytes, at: 0).typeflag == TarTypeflag.paxExtended)
            #expect(RawTarHeader(bytes, at: 0).data(in: bytes) == Array(expected.utf8))
        }
        // libarchive 3.6.2: rejects size=-1 and (by misframing) size=abc; ignores a bad length with a
        // warning; reads mtime=1e99 as 1 and truncates the path at the NUL.
        #expect(LibarchiveListing.read(layer(cases[0].0)).error != nil)
        #expect(LibarchiveListing.read(layer(cases[1].0)).error != nil)
        #expect(try LibarchiveListing.entries(layer(cases[2].0)).first?.mtime == 1)
        #expect(try LibarchiveListing.entries(layer(cases[3].0)).first?.name == [0x61])
        let badLength = LibarchiveListing.read(layer(cases[4].0))
        #expect(badLength.error == nil && !badLength.warnings.isEmpty && badLength.names.first == [0x78])
    }

    @Test func oversizedExtensionHeaders() throws {
        func paxLayer(_ size: Int) -> [UInt8] {
            var b = TarBuilder()
            b.pax([.filler(totalLength: size)])
            b.file("x", "x")
            return b.build()
        }
        func gnuLayer(_ size: Int) -> [UInt8] {
            var b = TarBuilder()
            b.gnuLongRecord(TarTypeflag.gnuLongName, [UInt8](repeating: 0x61, count: size))
            b.file("x", "x")
            return b.build()
        }
        let big = 2 << 20
        #expect(RawTarHeader(paxLayer(big), at: 0).size == Int64(big))
        #expect(RawTarHeader(gnuLayer(big), at: 0).size == Int64(big + 1))
        // libarchive caps special headers at 1 MiB, as docs/conformance.md does (U27).
        #expect(LibarchiveListing.read(paxLayer(big)).error == "Special header too large")
        #expect(LibarchiveListing.read(gnuLayer(big)).error == "Special header too large")
        #expect(try LibarchiveListing.entries(paxLayer(512 << 10)).map(\.name) == [[0x78]])
        #expect(try LibarchiveListing.entries(gnuLayer(512 << 10)).first?.name.count == 512 << 10)
    }

    @Test func paxGlobalHeaderIsItsOwnRecord() throws {
        var b = TarBuilder()
        b.paxGlobal(["comment": "deadbeef", "mtime": "1", "path": "x"])
        b.file("a", "a", mtime: Self.t0 + 1)
        let bytes = b.build()
        let global = RawTarHeader(bytes, at: 0)
        #expect(global.typeflag == TarTypeflag.paxGlobal && global.name == Array("pax_global_header".utf8))
        #expect(global.data(in: bytes) == Array("20 comment=deadbeef\n11 mtime=1\n9 path=x\n".utf8))
        let entries = try LibarchiveListing.entries(bytes)
        #expect(entries.map(\.name) == [[0x61]] && entries[0].mtime == Self.t0 + 1)
    }

    @Test func queuedPaxRecordsMergeWithDerivedOnesOrDangle() throws {
        var b = TarBuilder()
        b.pax([("comment", Array("hi".utf8))])
        b.file(Self.longPath(120), "x", xattrs: [.schily("user.a", "1")])
        let bytes = b.build()
        let headers = RawTarHeader.all(in: bytes)
        #expect(headers.map(\.typeflag) == [0x78, 0x30])
        #expect(headers[0].data(in: bytes) == PaxRecord("comment", "hi").encoded + PaxRecord.path(Self.longPath(120)).encoded
            + PaxRecord.schilyXattr("user.a", "1").encoded)

        var raw = TarBuilder()
        raw.pax([.size(1)])
        raw.paxRaw("no newline")
        raw.file("a", "a")
        let rawBytes = raw.build()
        #expect(RawTarHeader.all(in: rawBytes).map(\.typeflag) == [0x78, 0x78, 0x30])
        #expect(RawTarHeader(rawBytes, at: 0).data(in: rawBytes) == PaxRecord.size(1).encoded)
        #expect(RawTarHeader(rawBytes, at: 1024).data(in: rawBytes) == Array("no newline".utf8))

        var dangling = TarBuilder()
        dangling.file("a", "a")
        dangling.pax([.size(7)])
        let tail = dangling.build()
        #expect(tail.count == 1024 + 1024 + 1024)
        #expect(RawTarHeader(tail, at: 1024).typeflag == TarTypeflag.paxExtended)
    }
}
