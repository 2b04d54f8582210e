import Foundation
import Testing
@testable import ImgsyncCore
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

typealias TE = ImgsyncTestSupport.TarEntry

/// docs/conformance.md U19–U30 (tar format), U128–U136, U138–U139, U141 (streams, bounds), U143–U145 (CAS, sharing).
@Suite struct LayerApplierStreamTests {
    // MARK: Names and tar-format edge cases

    @Test func u19NULInAPaxPath() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.pax([PaxRecord("path", [0x61, 0x00, 0x62])]); t.file("x", "x")
        s.expectFailure(.tarFormat, [t.build()])
    }

    /// A header's checksum is the sum of its bytes with the checksum field read as spaces, as
    /// unsigned bytes or (old writers) as signed ones: both are accepted, any other value is refused.
    /// The name has bytes of 128 or more, where the two sums differ.
    @Test func headerChecksumUnsignedOrSignedIsAcceptedAndNothingElse() throws {
        let name = "caf\u{E9}-\u{00FF}\u{0100}"
        func layer(_ checksum: TarChecksum?) -> [UInt8] {
            var t = TarBuilder()
            var e = TE(name, typeflag: TarTypeflag.regular, body: "x")
            e.overrides.checksum = checksum
            t.entry(e)
            return t.build()
        }
        let header = RawTarHeader(layer(nil), at: 0)
        var signed = 0
        for (i, b) in header.block.enumerated() { signed += (148..<156).contains(i) ? 0x20 : Int(Int8(bitPattern: b)) }
        let unsigned = header.expectedChecksum
        #expect(signed != unsigned)
        for accepted in [unsigned, signed] {
            let s = try LayerSandbox()
            let r = try s.apply([layer(.value(accepted))])
            r.expectTree([.file(name, "x")])
        }
        for refused in [unsigned + 1, unsigned - 1, signed - 1, 0] {
            let s = try LayerSandbox()
            s.expectFailure(.tarFormat, [layer(.value(refused))])
        }
    }

    @Test func u20UstarPrefixSplit() throws {
        let s = try LayerSandbox()
        let dir = String(repeating: "a", count: 95)
        var t = TarBuilder(); t.file(dir + "/foo", "foo", longName: .ustarPrefix)
        let r = try s.apply([t.build()])
        r.expectTree([.implied(dir), .file(dir + "/foo", "foo")])
        s.checkSentinel()
    }

    @Test func u21GNULongNameAndLongLink() throws {
        let s = try LayerSandbox()
        let dir = String(repeating: "d", count: 99), name = dir + "/" + String(repeating: "f", count: 100)
        let target = "/" + String(repeating: "t", count: 299)
        #expect(name.utf8.count == 200 && target.utf8.count == 300)
        var t = TarBuilder(); t.file(name, "long", longName: .gnu); t.symlink("lnk", target: target, longName: .gnu)
        let r = try s.apply([t.build()])
        r.expectTree([.implied(dir), .file(name, "long"), .link("lnk", target)])
        s.checkSentinel()
    }

    @Test func u22PaxPathAndLinkpathOverride() throws {
        let s = try LayerSandbox()
        let d1 = "long/" + String(repeating: "p", count: 200)
        let path = d1 + "/" + String(repeating: "q", count: 94)
        let target = "/x/" + String(repeating: "y", count: 297)
        #expect(path.utf8.count == 300 && target.utf8.count == 300)
        var t = TarBuilder()
        t.pax([.path(path)]); t.file("short", "s")
        t.pax([.linkpath(target)]); t.symlink("lnk", target: "trunc")
        let r = try s.apply([t.build()])
        r.expectTree([.implied("long"), .implied(d1), .file(path, "s"), .link("lnk", target)])
        s.checkSentinel()
    }

    @Test func u23PaxSizeWithUstarSizeZeroSmuggling() throws {
        let s = try LayerSandbox()
        var inner = TarBuilder(); inner.file("smuggled", String(repeating: "s", count: 1024))
        let innerBytes = inner.bytes
        #expect(innerBytes.count == 1536)
        var e = TE("outer", typeflag: TarTypeflag.regular, body: innerBytes)
        e.paxRecords = [.size(1536)]
        e.overrides.size = .octal(0)
        var t = TarBuilder(); t.entry(e)
        let r = try s.apply([t.build()])
        r.expectTree([.fileBytes(Array("outer".utf8), innerBytes)])
        s.checkSentinel()
    }

    @Test func u24PaxSizeWithANonZeroUstarSize() throws {
        let s = try LayerSandbox()
        var e = TE("a", typeflag: TarTypeflag.regular, body: "abc")
        e.paxRecords = [.size(3)]
        e.overrides.size = .octal(10)
        var t = TarBuilder(); t.entry(e); t.file("b", "b")
        let r = try s.apply([t.build()])
        r.expectTree([.file("a", "abc"), .file("b", "b")])
        s.checkSentinel()
    }

    @Test func u25PaxThenGNULongNameThenFile() throws {
        let s = try LayerSandbox()
        let long = "longname" + String(repeating: "n", count: 150)
        var t = TarBuilder()
        t.pax([.size(5)])
        t.gnuLongRecord(TarTypeflag.gnuLongName, long)
        var e = TE("ignored", typeflag: TarTypeflag.regular, body: "hello")
        e.overrides.size = .octal(0)
        t.entry(e)
        let r = try s.apply([t.build()])
        r.expectTree([.file(long, "hello")])
        s.checkSentinel()
    }

    @Test(arguments: [0, 1, 2, 3])
    func u26MalformedPax(_ variant: Int) throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        switch variant {
        case 0: t.pax([PaxRecord("size", "-1")])
        case 1: t.pax([PaxRecord("size", "abc")])
        case 2: t.pax([PaxRecord("path", "abc", declaredLength: 40)])
        default: t.pax([PaxRecord("mtime", "1e99")])
        }
        t.file("a", "a")
        s.expectFailure(.tarFormat, [t.build()])
    }

    @Test(arguments: [false, true])
    func u27OversizedExtendedHeader(_ gnu: Bool) throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        if gnu {
            t.gnuLongRecord(TarTypeflag.gnuLongName, [UInt8](repeating: 0x61, count: 2 << 20))
            t.entry(TE("x", typeflag: TarTypeflag.regular, body: "x"))
        } else {
            t.pax([.filler(totalLength: 2 << 20)]); t.file("x", "x")
        }
        s.expectFailure(.limit, [t.build()])
    }

    @Test func u28PaxGlobalHeaderIgnored() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.paxGlobal(["comment": "deadbeef", "mtime": "1", "path": "x"]); t.file("a", "a", mtime: CT.T1)
        let r = try s.apply([t.build()])
        r.expectTree([.file("a", "a")])
        #expect(r.entry("a")?.mtime == CT.T1)
        s.checkSentinel()
    }

    @Test func u29BadHeaderChecksum() throws {
        let s = try LayerSandbox()
        var e = TE("a", typeflag: TarTypeflag.regular, body: "a")
        e.overrides.checksum = .corrupt
        var t = TarBuilder(); t.entry(e)
        s.expectFailure(.tarFormat, [t.build()])
    }

    @Test func u30ContiguousIsRegular() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.entry(TE("c", typeflag: TarTypeflag.contiguous, body: "c"))
        let r = try s.apply([t.build()])
        r.expectTree([.file("c", "c")])
        s.checkSentinel()
    }

    @Test(arguments: [TarTypeflag.gnuVolume, TarTypeflag.gnuMultiVolume, UInt8(ascii: "Z")])
    func u30UnusualTypeflagsAreErrors(_ flag: UInt8) throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.entry(TE("v", typeflag: flag, body: "v"))
        s.expectFailure(.tarFormat, [t.build()])
    }

    // MARK: Streams and compression

    @Test func u128ZeroByteBlobIsAnEmptyLayer() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("a", "a")
        let r = try s.apply([LayerCompressors.gzip(l1.build()), []], compression: .gzip)
        r.expectTree([.file("a", "a")])
        #expect(!r.warnings.isEmpty, "a warning for the 0-byte blob")
        s.checkSentinel()
    }

    @Test(arguments: [false, true])
    func u129EmptyTar(_ gzipped: Bool) throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("a", "a")
        let empty = [UInt8](repeating: 0, count: 1024)
        let layers = gzipped ? [LayerCompressors.gzip(l1.build()), LayerCompressors.gzip(empty)] : [l1.build(), empty]
        let r = try s.apply(layers, compression: gzipped ? .gzip : .none)
        r.expectTree([.file("a", "a")])
        s.checkSentinel()
    }

    @Test(arguments: [0, 1])
    func u130NoEndOfArchiveMarker(_ zeroBlocks: Int) throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.file("a", "a")
        let r = try s.apply([t.build(zeroBlocks: zeroBlocks)])
        r.expectTree([.file("a", "a")])
        s.checkSentinel()
    }

    @Test func u131TrailingGarbageAfterTheTarEOF() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.file("a", "a")
        let tar = t.build() + [UInt8](repeating: 0x5A, count: 10 * 1024)
        let r = try s.apply([LayerCompressors.gzip(tar)], compression: .gzip)
        r.expectTree([.file("a", "a")])
        s.checkSentinel()
    }

    @Test(arguments: [false, true])
    func u132TruncatedStream(_ inHeader: Bool) throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("k", "k")
        var l2 = TarBuilder(); l2.file("ok", "1")
        if inHeader {
            var h = TarBuilder(); h.file("big", "b")
            l2.appendRaw(Array(h.bytes.prefix(300)))
        } else {
            var e = TE("big", typeflag: TarTypeflag.regular, body: [UInt8](repeating: 0x62, count: 10))
            e.overrides.size = .octal(1000)
            e.overrides.padBody = false
            l2.entry(e)
        }
        s.expectFailure(.truncated, [l1.build(), l2.bytes])
    }

    func sampleTar() -> TarBuilder {
        var t = TarBuilder()
        t.dir("data/")
        for i in 0..<8 {
            t.file("data/f\(i)", String(repeating: "line \(i) of some compressible text\n", count: 2000))
        }
        return t
    }

    func sampleTree() -> [Expect] {
        [.dir("data")] + (0..<8).map { .file("data/f\($0)", String(repeating: "line \($0) of some compressible text\n", count: 2000)) }
    }

    @Test func u133aGzipTrailerCRCWrong() throws {
        let s = try LayerSandbox()
        var gz = LayerCompressors.gzip(sampleTar().build())
        gz[gz.count - 8] ^= 0xFF
        s.expectFailure(.decompress, [gz], compression: .gzip)
        var gz2 = LayerCompressors.gzip(sampleTar().build())
        gz2[gz2.count - 1] ^= 0x01 // ISIZE
        s.expectFailure(.decompress, [gz2], compression: .gzip)
    }

    @Test func u133bCorruptDeflateMidStream() throws {
        let s = try LayerSandbox()
        var gz = LayerCompressors.gzip(sampleTar().build())
        let mid = gz.count / 2
        for i in mid..<(mid + 16) { gz[i] ^= 0xA5 }
        s.expectFailure(.decompress, [gz], compression: .gzip)
    }

    @Test func u133cZstdBadContentChecksum() throws {
        let s = try LayerSandbox()
        var z = LayerCompressors.zstd(sampleTar().build(), checksum: true)
        z[z.count - 1] ^= 0xFF
        s.expectFailure(.decompress, [z], compression: .zstd)
    }

    @Test func u134MultiMemberGzip() throws {
        let s = try LayerSandbox()
        let tar = sampleTar().build()
        let cut = tar.count * 4 / 10
        let blob = LayerCompressors.gzip(Array(tar[..<cut]))
            + LayerCompressors.gzipMember(Array(tar[cut...]), extra: [1, 2, 3, 4], fileName: Array("layer.tar".utf8),
                                          comment: Array("second member".utf8), headerCRC: true)
        let r = try s.apply([blob], compression: .gzip)
        r.expectTree(sampleTree())
        s.checkSentinel()
    }

    @Test func u135ZstdSkippableAndMultipleFrames() throws {
        let s = try LayerSandbox()
        let tar = sampleTar().build()
        let cut = tar.count / 2
        let blob = LayerCompressors.zstdSkippableFrame(payloadSize: 56) + LayerCompressors.zstd(Array(tar[..<cut]))
            + LayerCompressors.zstd(Array(tar[cut...])) + LayerCompressors.zstdSkippableFrame(payloadSize: 56, magicNibble: 7)
        let r = try s.apply([blob], compression: .zstd)
        r.expectTree(sampleTree())
        s.checkSentinel()
    }

    @Test func u136MediaTypeMagicMismatch() throws {
        let tar = sampleTar().build()
        let s = try LayerSandbox()
        s.expectFailure(.mediaType, [tar], compression: .gzip)
        s.expectFailure(.mediaType, [LayerCompressors.gzip(tar)], compression: .none)
        s.expectFailure(.mediaType, [LayerCompressors.gzip(tar)], compression: .zstd)
    }

    // MARK: Resource bounds

    @Test func u138HugeDeclaredSize() throws {
        let s = try LayerSandbox()
        var e = TE("big", typeflag: TarTypeflag.regular, body: [UInt8](repeating: 0x62, count: 10))
        e.overrides.size = .base256(1 << 40)
        e.overrides.padBody = false
        var t = TarBuilder(); t.entry(e)
        s.expectFailure(.truncated, [t.bytes])
    }

    @Test(arguments: [TarNumber.base256Unsigned(UInt64(Int64.max) + 1), TarNumber.base256(-1)])
    func u138InvalidDeclaredSize(_ size: TarNumber) throws {
        let s = try LayerSandbox()
        var e = TE("big", typeflag: TarTypeflag.regular, body: [UInt8](repeating: 0x62, count: 10))
        e.overrides.size = size
        e.overrides.padBody = false
        var t = TarBuilder(); t.entry(e)
        s.expectFailure(.tarFormat, [t.bytes])
    }

    /// Scaled down from the table (100 GiB behind a 1 GiB limit) to 64 MiB behind a 1 MiB limit, so the
    /// blob can be built in the test; the ratio and the property (ERROR(limit), promptly) are the same.
    @Test func u139DecompressionBomb() throws {
        let s = try LayerSandbox()
        var e = TE("zeros", typeflag: TarTypeflag.regular, body: [UInt8](repeating: 0, count: 64 << 20))
        e.mode = 0o644
        var t = TarBuilder(); t.entry(e)
        let blob = LayerCompressors.gzip(t.build(), level: 1)
        var limits = LayerLimits(); limits.maxLayerBytes = 1 << 20; limits.maxImageBytes = 1 << 20
        let start = Date()
        s.expectFailure(.limit, [blob], compression: .gzip, limits: limits)
        #expect(Date().timeIntervalSince(start) < 30, "the limit is hit promptly")
    }

    @Test func u141DeepNesting() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        var path = ""
        for _ in 0..<2100 { path += "d/"; t.dir(path) }
        let leaf = path + "leaf"
        t.file(leaf, "x")
        #expect(leaf.utf8.count > 4096)
        let r = try s.apply([t.build()])
        let dirs = r.catalog.filter { $0.type == .directory && !$0.path.isEmpty }
        #expect(dirs.count == 2100, "dirs: \(dirs.count)")
        #expect(r.catalog.filter { !$0.path.isEmpty }.count == 2101, "catalog size")
        let e = r.entry(leaf)
        #expect(e?.type == .regular && e?.sha256 == SHA256Hasher.hash(Array("x".utf8)))
        // Read the leaf back fd-relatively (its full path is longer than PATH_MAX).
        var fd = open(r.tree, O_RDONLY | O_DIRECTORY)
        #expect(fd >= 0)
        for _ in 0..<2100 where fd >= 0 {
            let next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
            close(fd); fd = next
        }
        #expect(fd >= 0, "2100 nested dirs on disk")
        if fd >= 0 {
            let lf = openat(fd, "leaf", O_RDONLY | O_NOFOLLOW)
            var buf = [UInt8](repeating: 0, count: 16)
            let n = lf >= 0 ? buf.withUnsafeMutableBytes { read(lf, $0.baseAddress, $0.count) } : -1
            #expect(n == 1 && buf[0] == 0x78, "leaf content")
            if lf >= 0 { close(lf) }
            close(fd)
        }
        s.checkSentinel()
    }

    @Test func u141ComponentOf256BytesIsNameTooLong() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.file("ok", "ok"); t.file("a/" + String(repeating: "n", count: 256), "x")
        s.expectFailure(.nameTooLong, [t.build()])
    }

    // MARK: CAS and atomicity

    @Test func u143CASDedupAndIntegrity() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("a", "same"); l1.file("b", "same"); l1.file("e", "")
        var l2 = TarBuilder(); l2.file("a", "changed")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.file("a", "changed"), .file("b", "same"), .file("e", "")])
        for body in ["same", "changed", ""] {
            #expect(r.objects(for: body).count == 1, "CAS objects for \"\(body)\": \(r.objects(for: body))")
        }
        s.checkSentinel()
    }

    @Test func u144AFailedLayerLeavesNothing() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("base", "b")
        var l2 = TarBuilder()
        for i in 0..<100 { l2.file("f\(i)", "\(i)") }
        l2.file("../x", "pwn")
        s.expectFailure(.traversal, [l1.build(), l2.build()])
        #expect(lstatPath(s.root + "/test/image:1") == nil, "a tree is visible under the name")
    }

    @Test func u145TwoImagesShareLayers() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("etc/", mode: 0o755); l1.file("etc/conf", "v1"); l1.file("bin", "bin", mode: 0o755)
        var l2 = TarBuilder(); l2.file("etc/extra", "a-only")
        var l3 = TarBuilder(); l3.dir("etc/", mode: 0o700, mtime: CT.T2); l3.file("etc/conf", "v2")
        let a = try s.apply([l1.build(), l2.build()], name: "test/a:1")
        let treeA = a.published.treePath
        let before = LayerSandbox.listing(treeA, excluding: "")
        let b = try s.apply([l1.build(), l3.build()], name: "test/b:1")
        #expect(LayerSandbox.listing(treeA, excluding: "") == before, "tree A changed after B was built")
        a.expectTree([.dir("etc"), .file("etc/conf", "v1"), .file("etc/extra", "a-only"), .file("bin", "bin", mode: 0o755)])
        b.expectTree([.dir("etc", mode: 0o700, mtime: CT.T2), .file("etc/conf", "v2"), .file("bin", "bin", mode: 0o755)])
        // Any inode shared between the trees must be an immutable CAS object.
        func inodes(_ dir: String) -> [UInt64: String] {
            var out: [UInt64: String] = [:]
            let en = FileManager.default.enumerator(atPath: dir)
            while let p = en?.nextObject() as? String {
                if let st = lstatPath(dir + "/" + p) { out[UInt64(st.st_ino)] = p }
            }
            return out
        }
        let objectInodes = Set(inodes(a.objectsDir).keys)
        let ia = inodes(treeA), ib = inodes(b.published.treePath)
        for (ino, p) in ia where ib[ino] != nil {
            #expect(objectInodes.contains(ino), "\(p) shares an inode between trees that is not a CAS object")
            if let st = lstatPath(treeA + "/" + p) { #expect(st.st_mode & 0o222 == 0, "\(p): shared inode is writable") }
        }
        s.checkSentinel()
    }
}
