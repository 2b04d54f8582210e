import Testing
import ImgsyncTestSupport

/// Names and link targets beyond the 100-byte ustar fields (docs/conformance.md U20–U22).
extension TarBuilderTests {
    static func longPath(_ count: Int, component: String = "abcdefghi") -> [UInt8] {
        var out: [UInt8] = []
        while out.count < count { out += Array((component + "/").utf8) }
        out = Array(out.prefix(count))
        if out.last == 0x2F { out[out.count - 1] = 0x7A }
        return out
    }

    @Test func ustarPrefixFieldViaOverrides() throws {
        var e = TarEntry("ignored", typeflag: TarTypeflag.regular, body: "f")
        e.overrides.prefixField = [UInt8](repeating: 0x61, count: 95)
        e.overrides.nameField = Array("foo".utf8)
        var b = TarBuilder()
        b.entry(e)
        let bytes = b.build()
        let h = RawTarHeader(bytes, at: 0)
        #expect(h.prefix == [UInt8](repeating: 0x61, count: 95) && h.name == Array("foo".utf8))
        let entries = try LibarchiveListing.entries(bytes)
        #expect(entries.map(\.name) == [[UInt8](repeating: 0x61, count: 95) + Array("/foo".utf8)])
    }

    @Test func ustarPrefixStyleSplitsAtASlash() throws {
        let name = Self.longPath(230)
        var b = TarBuilder()
        b.file(name, "x", longName: .ustarPrefix)
        let bytes = b.build()
        let h = RawTarHeader(bytes, at: 0)
        #expect(h.typeflag == TarTypeflag.regular)  // no extension record in front
        #expect(h.prefix.count <= 155 && h.name.count <= 100)
        #expect(h.prefix + [0x2F] + h.name == name)
        #expect(try LibarchiveListing.entries(bytes).map(\.name) == [name])
    }

    @Test func gnuLongNameAndLongLink() throws {
        let name = Self.longPath(200)
        let target = Self.longPath(300, component: "target")
        var b = TarBuilder()
        b.file(name, "body", longName: .gnu)
        b.symlink("lnk", target: target, longName: .gnu)
        let bytes = b.build()

        let headers = RawTarHeader.all(in: bytes)
        #expect(headers.map(\.typeflag) == [0x4C, 0x30, 0x4B, 0x32])  // L, 0, K, 2
        #expect(headers[0].name == Array("././@LongLink".utf8) && headers[0].magic == Array("ustar ".utf8))
        #expect(headers[0].data(in: bytes) == name + [0])
        #expect(headers[1].name == Array(name.prefix(100)))
        #expect(headers[2].data(in: bytes) == target + [0])
        #expect(headers.allSatisfy { $0.octal(148, 8) == Int64($0.expectedChecksum) })

        let entries = try LibarchiveListing.entries(bytes)
        #expect(entries.map(\.name) == [name, Array("lnk".utf8)])
        #expect(entries[0].data == Array("body".utf8))
        #expect(entries[1].link == target)
    }

    @Test func paxPathAndLinkpath() throws {
        let path = Self.longPath(300, component: "long")
        let target = Array("/x/".utf8) + Self.longPath(297)
        var b = TarBuilder()
        b.pax([.path(path)])
        b.file("short", "p")
        b.pax([("linkpath", target)])
        b.symlink("lnk", target: "trunc")
        let bytes = b.build()
        let headers = RawTarHeader.all(in: bytes)
        #expect(headers.map(\.typeflag) == [0x78, 0x30, 0x78, 0x32])
        #expect(headers[0].data(in: bytes) == PaxRecord.path(path).encoded)
        #expect(headers[1].name == Array("short".utf8))
        #expect(headers[3].linkName == Array("trunc".utf8))

        let entries = try LibarchiveListing.entries(bytes)
        #expect(entries.map(\.name) == [path, Array("lnk".utf8)])
        #expect(entries[1].link == target)
    }

    @Test func longNamesDefaultToPax() throws {
        let name = Self.longPath(150)
        let target = Self.longPath(120, component: "t")
        var b = TarBuilder()
        b.symlink(name, target: target)
        b.dir(Self.longPath(101) + [0x2F])
        let bytes = b.build()
        let headers = RawTarHeader.all(in: bytes)
        #expect(headers.map(\.typeflag) == [0x78, 0x32, 0x78, 0x35])
        #expect(headers[0].data(in: bytes) == PaxRecord.path(name).encoded + PaxRecord.linkpath(target).encoded)
        #expect(headers[1].name == Array(name.prefix(100)) && headers[1].linkName == Array(target.prefix(100)))
        let entries = try LibarchiveListing.entries(bytes)
        #expect(entries.map(\.name) == [name, Self.longPath(101) + [0x2F]])
        #expect(entries[0].link == target && entries[1].kind == .directory)
    }

    @Test func exactly100ByteNamesNeedNoExtension() throws {
        let name = Self.longPath(100)
        var b = TarBuilder()
        b.file(name, "x")
        let bytes = b.build()
        #expect(RawTarHeader(bytes, at: 0).typeflag == TarTypeflag.regular)
        #expect(RawTarHeader(bytes, at: 0).field(0, 100) == name)
        #expect(try LibarchiveListing.entries(bytes).map(\.name) == [name])
    }
}
