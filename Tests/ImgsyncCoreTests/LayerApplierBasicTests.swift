import Foundation
import Testing
@testable import ImgsyncCore
import ImgsyncTestSupport

/// docs/conformance.md U1–U7, U11, U13, U31–U38: plain extraction, names and whiteouts.
@Suite struct LayerApplierBasicTests {
    static let T0 = TarBuilder.t0

    func u1() -> TarBuilder {
        var t = TarBuilder()
        t.dir("./"); t.dir("etc/"); t.file("etc/my-app-config", "c"); t.dir("bin/")
        t.file("bin/my-app-binary", "b", mode: 0o755); t.file("bin/my-app-tools", "t", mode: 0o755)
        return t
    }

    @Test func u1PlainExtraction() throws {
        let s = try LayerSandbox()
        let r = try s.apply([u1().build()])
        r.expectTree([.dir("etc"), .file("etc/my-app-config", "c"), .dir("bin"),
                      .file("bin/my-app-binary", "b", mode: 0o755), .file("bin/my-app-tools", "t", mode: 0o755)])
        s.checkSentinel()
    }

    @Test func u2SpecChangeset() throws {
        let s = try LayerSandbox()
        var l2 = TarBuilder()
        l2.dir("etc/my-app.d/"); l2.file("etc/my-app.d/default.cfg", "d")
        l2.file("bin/my-app-tools", "t2", mode: 0o755); l2.whiteout("etc/.wh.my-app-config")
        let r = try s.apply([u1().build(), l2.build()])
        r.expectTree([.dir("etc"), .dir("etc/my-app.d"), .file("etc/my-app.d/default.cfg", "d"), .dir("bin"),
                      .file("bin/my-app-binary", "b", mode: 0o755), .file("bin/my-app-tools", "t2", mode: 0o755)])
        s.checkSentinel()
    }

    @Test func u3ImpliedParentsIgnoreUmask() throws {
        let s = try LayerSandbox()
        let old = umask(0o027)
        defer { umask(old) }
        var t = TarBuilder(); t.file("a/b/c/file", "x")
        let r = try s.apply([t.build()])
        r.expectTree([.implied("a"), .implied("a/b"), .implied("a/b/c"), .file("a/b/c/file", "x")])
        for p in ["a", "a/b", "a/b/c"] { #expect(r.entry(p)?.mode == 0o755) }
    }

    @Test func u4DirEntryAfterChild() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.file("a/x", "x"); t.dir("a/", mode: 0o700, mtime: Self.T0 + 100)
        let r = try s.apply([t.build()])
        r.expectTree([.dir("a", mode: 0o700, mtime: Self.T0 + 100), .file("a/x", "x")])
    }

    @Test func u5NameNormalisation() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.file("./a", "1"); t.file("d//e", "2"); t.file("/etc/x", "3"); t.file("//f///g", "4"); t.dir("./h/./i/")
        let r = try s.apply([t.build()])
        r.expectTree([.file("a", "1"), .implied("d"), .file("d/e", "2"), .implied("etc"), .file("etc/x", "3"),
                      .implied("f"), .file("f/g", "4"), .implied("h"), .dir("h/i")])
    }

    @Test func u7DotNamesThatAreNotTraversal() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.file("..gitme", "g"); t.file("...", "3"); t.file("a.wh.b", "w"); t.file("x/..y", "y")
        let r = try s.apply([t.build()])
        r.expectTree([.file("..gitme", "g"), .file("...", "3"), .file("a.wh.b", "w"), .implied("x"), .file("x/..y", "y")])
    }

    @Test(arguments: ["../victim/dotdot", "a/../../x", "/../victim/slash-dotdot", ".."])
    func u8to12TraversalIsAnError(_ name: String) throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.dir("a/"); t.file(name, "pwn")
        s.expectFailure(.traversal, [t.build()])
    }

    @Test func u11InnerDotDotThatStaysInside() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.file("a/../x", "x")
        let r = try s.apply([t.build()])
        r.expectTree([.file("x", "x")])
    }

    @Test func u14RootEntryOfAnotherTypeIsAnError() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.symlink("./", target: "/victim"); t.file("x", "pwn")
        s.expectFailure(.rootType, [t.build()])
        var t2 = TarBuilder(); t2.file(".", "x")
        s.expectFailure(.rootType, [t2.build()])
    }

    @Test func u17NFCAndNFDAreDifferentNames() throws {
        let s = try LayerSandbox()
        let nfc: [UInt8] = Array("caf\u{00E9}".utf8), nfd: [UInt8] = Array("cafe\u{0301}".utf8)
        var l1 = TarBuilder(); l1.file(nfc, "nfc"); l1.file(nfd, "nfd")
        var l2 = TarBuilder(); l2.whiteout(Array(".wh.".utf8) + nfc)
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.fileBytes(nfd, Array("nfd".utf8))])
    }

    @Test func u18NonUTF8NamesStayBytes() throws {
        let s = try LayerSandbox()
        let latin: [UInt8] = [0x63, 0x61, 0x66, 0xE9], fffd: [UInt8] = [0x63, 0x61, 0x66, 0xEF, 0xBF, 0xBD]
        var t = TarBuilder(); t.file(latin, "latin1"); t.file(fffd, "fffd")
        let r = try s.apply([t.build()])
        r.expectTree([.fileBytes(latin, Array("latin1".utf8)), .fileBytes(fffd, Array("fffd".utf8))])
    }

    @Test func u31to33Whiteouts() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder()
        l1.file("file1", "1"); l1.dir("a/"); l1.file("a/file2", "2"); l1.dir("b/"); l1.dir("c/"); l1.file("c/file3", "3")
        var l2 = TarBuilder()
        l2.whiteout(".wh.file1"); l2.whiteout("a/.wh.file2"); l2.whiteout(".wh.b"); l2.file("file4", "4")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("a"), .dir("c"), .file("c/file3", "3"), .file("file4", "4")])
    }

    @Test func u37SameLayerWhiteoutAfterTheEntryIsKept() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("a", "old")
        var l2 = TarBuilder(); l2.file("a", "new"); l2.whiteout(".wh.a")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.file("a", "new")])
    }

    @Test func u38DirWhiteoutAfterAnUpperChild() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("dir1/"); l1.file("dir1/lower", "l")
        var l2 = TarBuilder(); l2.dir("dir1/"); l2.file("dir1/upper", "u"); l2.whiteout(".wh.dir1")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("dir1"), .file("dir1/upper", "u")])
    }
}
