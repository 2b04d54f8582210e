import Testing
import ImgsyncTestSupport

/// `TarBuilder` output checked byte by byte and through libarchive as an independent reader.
/// The extensions in `TarBuilderTests+*.swift` cover long names, PAX, malformed headers, sparse files,
/// compressors and the layer generator.
@Suite struct TarBuilderTests {
    static let t0 = TarBuilder.t0

    @Test func everyEntryTypeReadsBackWithConformanceDefaults() throws {
        var b = TarBuilder()
        b.dir("./")
        b.dir("etc/")
        b.file("etc/my-app-config", "c")
        b.file("bin/my-app-binary", "b", mode: 0o755, uid: 1000, gid: 42, uname: "x", gname: "y", mtime: Self.t0 + 60)
        b.symlink("bin/sh", target: "/bin/busybox")
        b.hardlink("bin/copy", target: "bin/my-app-binary")
        b.charDevice("dev/null", major: 1, minor: 3, mode: 0o666)
        b.blockDevice("dev/sda", major: 8, minor: 0, mode: 0o660)
        b.fifo("run/fifo", mode: 0o600)
        let entries = try LibarchiveListing.entries(b.build())

        try #require(entries.count == 9)
        let byName = Dictionary(uniqueKeysWithValues: entries.map { (String(decoding: $0.name, as: UTF8.self), $0) })
        #expect(byName["./"]?.kind == .directory)
        #expect(byName["etc/"]?.mode == 0o755)
        let config = try #require(byName["etc/my-app-config"])
        #expect(config.kind == .regular && config.mode == 0o644 && config.data == Array("c".utf8))
        #expect(config.uid == 0 && config.gid == 0 && config.mtime == Self.t0)
        let binary = try #require(byName["bin/my-app-binary"])
        #expect(binary.mode == 0o755 && binary.uid == 1000 && binary.gid == 42 && binary.mtime == Self.t0 + 60)
        #expect(byName["bin/sh"]?.kind == .symlink && byName["bin/sh"]?.link == Array("/bin/busybox".utf8))
        #expect(byName["bin/copy"]?.kind == .hardlink && byName["bin/copy"]?.link == Array("bin/my-app-binary".utf8))
        let null = try #require(byName["dev/null"])
        #expect(null.kind == .charDevice && null.devMajor == 1 && null.devMinor == 3 && null.mode == 0o666)
        let sda = try #require(byName["dev/sda"])
        #expect(sda.kind == .blockDevice && sda.devMajor == 8 && sda.devMinor == 0 && sda.mode == 0o660)
        #expect(byName["run/fifo"]?.kind == .fifo && byName["run/fifo"]?.mode == 0o600)
    }

    @Test func headersFollowTheUstarLayout() throws {
        var b = TarBuilder()
        b.file("a", "hello", uname: "root", gname: "wheel")
        let bytes = b.build()
        // header, one data block, two zero blocks
        #expect(bytes.count == 4 * 512)
        #expect(bytes[1024...].allSatisfy { $0 == 0 })
        let h = RawTarHeader(bytes, at: 0)
        #expect(h.magic == Array("ustar\0".utf8))
        #expect(h.version == Array("00".utf8))
        #expect(h.field(100, 8) == Array("0000644\0".utf8))
        #expect(h.field(108, 8) == Array("0000000\0".utf8))
        #expect(h.field(124, 12) == Array("00000000005\0".utf8))
        #expect(h.field(136, 12) == Array("13602760400\0".utf8))  // 1577836800 in octal
        #expect(h.typeflag == 0x30)
        #expect(h.text(265, 32) == Array("root".utf8) && h.text(297, 32) == Array("wheel".utf8))
        let checksum = h.field(148, 8)
        #expect(checksum[6] == 0 && checksum[7] == 0x20)
        #expect(h.octal(148, 8) == Int64(h.expectedChecksum))
        #expect(Array(bytes[512..<517]) == Array("hello".utf8))
        #expect(bytes[517..<1024].allSatisfy { $0 == 0 })
    }

    @Test func whiteoutAndOpaqueMarkers() throws {
        var b = TarBuilder()
        b.whiteout("etc/.wh.x")
        b.opaque("a/")
        b.opaque("b")
        b.opaque("")
        let entries = try LibarchiveListing.entries(b.build())
        #expect(entries.map(\.name) == ["etc/.wh.x", "a/.wh..wh..opq", "b/.wh..wh..opq", ".wh..wh..opq"].map { Array($0.utf8) })
        #expect(entries.allSatisfy { $0.kind == .regular && $0.size == 0 && $0.mode == 0o644 })
    }

    @Test func hardlinkHeaderCarriesItsOwnMetadata() throws {
        var b = TarBuilder()
        b.file("a", "x")
        b.hardlink("b", target: "a", mode: 0o777, uid: 1337, gid: 2020, mtime: Self.t0 + 1)
        let bytes = b.build()
        let link = RawTarHeader(bytes, at: 1024)
        #expect(link.typeflag == 0x31 && link.linkName == Array("a".utf8) && link.size == 0)
        #expect(link.octal(100, 8) == 0o777 && link.octal(108, 8) == 1337 && link.octal(116, 8) == 2020)
        let entries = try LibarchiveListing.entries(bytes)
        #expect(entries.last?.kind == .hardlink && entries.last?.uid == 1337)
    }

    @Test func namesAreBytesNotStrings() throws {
        let names: [[UInt8]] = [
            [0x63, 0x61, 0x66, 0xE9],                    // caf\xE9 (latin-1)
            [0x63, 0x61, 0x66, 0xEF, 0xBF, 0xBD],        // caf + U+FFFD
            Array("caf\u{E9}".utf8), Array("cafe\u{301}".utf8),  // NFC ≠ NFD
            Array("new\nline".utf8), Array("tab\tx".utf8), Array("a\\b".utf8), Array("..\\x".utf8),
            Array("中文/文件".utf8),
        ]
        var b = TarBuilder()
        for (i, name) in names.enumerated() { b.file(name, "\(i)") }
        b.pax([.path([0x70, 0x61, 0x78, 0xE9] as [UInt8])])
        b.file("short", "via pax")
        let listing = LibarchiveListing.read(b.build())
        #expect(listing.error == nil)
        #expect(listing.names == names + [[0x70, 0x61, 0x78, 0xE9]])
        #expect(listing.entries.map(\.data) == (0..<names.count).map { Array("\($0)".utf8) } + [Array("via pax".utf8)])
    }

    @Test func endOfArchiveAndRawBytes() throws {
        var b = TarBuilder()
        b.file("a", "a")
        #expect(b.bytes.count == 1024)
        #expect(b.build(zeroBlocks: 0).count == 1024)
        #expect(b.build(zeroBlocks: 1).count == 1536)
        #expect(b.build().count == 2048)
        for blocks in 0...2 {
            #expect(try LibarchiveListing.entries(b.build(zeroBlocks: blocks)).map(\.name) == [[0x61]])
        }

        let garbage = [UInt8](repeating: 0xA5, count: 10 << 10)
        var trailing = b
        trailing.endOfArchive(zeroBlocks: 2)
        trailing.appendRaw(garbage)
        let bytes = trailing.build(zeroBlocks: 0)
        #expect(bytes.count == 2048 + garbage.count && Array(bytes.suffix(garbage.count)) == garbage)
        #expect(try LibarchiveListing.entries(bytes).count == 1)
    }

    @Test func drainingKeepsOneContinuousStream() throws {
        var whole = TarBuilder()
        var drained = TarBuilder()
        var pieces: [UInt8] = []
        for i in 0..<5 {
            whole.file("f\(i)", String(repeating: "x", count: i * 300))
            drained.file("f\(i)", String(repeating: "x", count: i * 300))
            pieces += drained.drain()
            #expect(drained.bytes.isEmpty)
        }
        pieces += drained.build()
        #expect(pieces == whole.build())
    }
}
