import Testing
@testable import ImgsyncCore

/// `TarWriter` output read back by libarchive (an independent reader), by imgsync's own
/// `TarReader`, and checked at the byte level where the format leaves no choice.
@Suite struct TarWriterTests {
    static let t: Int64 = 1_700_000_000

    /// Every entry as `TarReader` sees it, with bodies.
    static func readBack(_ bytes: [UInt8]) throws -> [(entry: TarEntry, body: [UInt8])] {
        let reader = TarReader(source: MemoryChunkSource(bytes, chunkSize: 700))
        var out: [(TarEntry, [UInt8])] = []
        while let e = try reader.next() {
            var body: [UInt8] = []
            if e.kind == .regular { try reader.readBody { body += $0 } }
            out.append((e, body))
        }
        return out
    }

    static func longName(_ count: Int, _ component: String) -> [UInt8] {
        var out: [UInt8] = []
        while out.count < count { out += Array((component + "/").utf8) }
        out = Array(out.prefix(count))
        if out.last == 0x2F { out[out.count - 1] = 0x78 }
        return out
    }

    @Test func entriesReadBackThroughLibarchive() throws {
        var w = TarWriter()
        w.directory(Array("etc".utf8), mode: 0o755, mtime: Self.t)
        w.file(Array("etc/hosts".utf8), [], mode: 0o644, mtime: Self.t)
        w.file(Array("bin/run".utf8), Array("#!/bin/sh\necho hi\n".utf8), mode: 0o755, mtime: Self.t + 1)
        w.symlink(Array("singularity".utf8), target: Array(".singularity.d/runscript".utf8), mtime: Self.t)
        w.directory(Array("tmp/".utf8), mode: 0o1777, mtime: 0)
        let entries = try LibarchiveListing.entries(w.finish())

        try #require(entries.count == 5)
        #expect(entries.map(\.name) == ["etc/", "etc/hosts", "bin/run", "singularity", "tmp/"].map { Array($0.utf8) })
        #expect(entries.map(\.kind) == [.directory, .regular, .regular, .symlink, .directory])
        #expect(entries.map(\.mode) == [0o755, 0o644, 0o755, 0o777, 0o1777])
        #expect(entries.map(\.mtime) == [Self.t, Self.t, Self.t + 1, Self.t, 0])
        #expect(entries.allSatisfy { $0.uid == 0 && $0.gid == 0 })
        #expect(entries[1].size == 0 && entries[1].data.isEmpty)
        #expect(entries[2].data == Array("#!/bin/sh\necho hi\n".utf8))
        #expect(entries[3].link == Array(".singularity.d/runscript".utf8))
    }

    @Test func bodiesOfEveryPaddingRemainderSurvive() throws {
        let sizes = [0, 1, 511, 512, 513, 1024, 4000]
        var w = TarWriter()
        for (i, n) in sizes.enumerated() {
            w.file(Array("f\(i)".utf8), (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }, mtime: Self.t)
        }
        let bytes = w.finish()
        #expect(bytes.count % 512 == 0)
        let listing = try LibarchiveListing.entries(bytes)
        let ours = try Self.readBack(bytes)
        for (i, n) in sizes.enumerated() {
            let expected = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
            #expect(listing[i].data == expected, "libarchive, size \(n)")
            #expect(ours[i].body == expected, "TarReader, size \(n)")
        }
    }

    @Test func longNamesAndTargetsGoThroughPax() throws {
        let longFile = Self.longName(180, "directory")
        let exactly100 = Self.longName(100, "abc")
        let longTarget = Self.longName(300, "target")
        let nonASCII = Array("données/ünïcode-名前".utf8)
        var w = TarWriter()
        w.file(longFile, Array("long".utf8), mtime: Self.t)
        w.file(exactly100, [], mtime: Self.t)
        w.symlink(Array("short-link".utf8), target: longTarget, mtime: Self.t)
        w.symlink(longFile + Array("-link".utf8), target: longTarget, mtime: Self.t)
        w.directory(Self.longName(150, "d"), mtime: Self.t)
        w.file(nonASCII, [1], mtime: Self.t)
        let bytes = w.finish()

        let headers = RawTarHeader.all(in: bytes)
        // x, file, file (fits exactly: no PAX), x, symlink, x, symlink, x, dir, file
        #expect(headers.map(\.typeflag) == [0x78, 0x30, 0x30, 0x78, 0x32, 0x78, 0x32, 0x78, 0x35, 0x30])
        #expect(headers[0].data(in: bytes) == Array("190 path=".utf8) + longFile + [0x0A])
        #expect(headers[2].name == exactly100)

        let expectedNames = [longFile, exactly100, Array("short-link".utf8), longFile + Array("-link".utf8),
                             Self.longName(150, "d") + [0x2F], nonASCII]
        let listing = try LibarchiveListing.entries(bytes)
        #expect(listing.map(\.name) == expectedNames)
        #expect(listing[2].link == longTarget && listing[3].link == longTarget)
        let ours = try Self.readBack(bytes)
        #expect(ours.map(\.entry.name) == expectedNames)
        #expect(ours[2].entry.linkName == longTarget && ours[3].entry.linkName == longTarget)
        #expect(ours[0].body == Array("long".utf8))
    }

    @Test func paxRecordLengthCountsItsOwnDigits() {
        // 7 + 3 = 10 bytes without the length; "12 k=vvvvvvv\n" would be 13, so the answer is 13.
        for valueLength in 0..<300 {
            let record = TarWriter.paxRecord(key: "path", value: [UInt8](repeating: 0x61, count: valueLength))
            let space = record.firstIndex(of: 0x20)!
            let declared = Int(String(decoding: record[..<space], as: UTF8.self))
            #expect(declared == record.count, "value of \(valueLength) bytes")
        }
    }

    @Test func mtimesOutsideTheOctalFieldUsePax() throws {
        var w = TarWriter()
        w.file(Array("old".utf8), [], mtime: -86_400)
        w.file(Array("far".utf8), [], mtime: 0o77777777777 + 1)
        w.file(Array("edge".utf8), [], mtime: 0o77777777777)
        let bytes = w.finish()
        #expect(RawTarHeader.all(in: bytes).map(\.typeflag) == [0x78, 0x30, 0x78, 0x30, 0x30])
        let listing = try LibarchiveListing.entries(bytes)
        #expect(listing.map(\.mtime) == [-86_400, 0o77777777777 + 1, 0o77777777777])
        #expect(try Self.readBack(bytes).map(\.entry.mtime) == [-86_400, 0o77777777777 + 1, 0o77777777777])
    }

    @Test func headerBytesFollowUstar() {
        var w = TarWriter()
        w.file(Array("a".utf8), Array("hello".utf8), mode: 0o4755, mtime: 1_577_836_800)
        let bytes = w.finish()
        #expect(bytes.count == 4 * 512)
        let h = RawTarHeader(bytes, at: 0)
        #expect(h.magic == Array("ustar\0".utf8) && h.version == Array("00".utf8))
        #expect(h.field(100, 8) == Array("0004755\0".utf8))
        #expect(h.field(108, 8) == Array("0000000\0".utf8) && h.field(116, 8) == Array("0000000\0".utf8))
        #expect(h.field(124, 12) == Array("00000000005\0".utf8))
        #expect(h.field(136, 12) == Array("13602760400\0".utf8))
        #expect(h.typeflag == 0x30)
        let checksum = h.field(148, 8)
        #expect(checksum[6] == 0 && checksum[7] == 0x20)
        #expect(h.octal(148, 8) == Int64(h.expectedChecksum))
        #expect(bytes[1024...].allSatisfy { $0 == 0 })
    }

    @Test func equalCallsGiveEqualBytes() {
        func build() -> [UInt8] {
            var w = TarWriter()
            w.directory(Array(".singularity.d".utf8), mtime: Self.t)
            w.file(Array(".singularity.d/runscript".utf8), Array("#!/bin/sh\n".utf8), mode: 0o755, mtime: Self.t)
            w.symlink(Array(Self.longName(120, "s")), target: Array("x".utf8), mtime: Self.t)
            return w.finish()
        }
        let a = build()
        #expect(a == build())
        #expect(!a.isEmpty)
    }
}
