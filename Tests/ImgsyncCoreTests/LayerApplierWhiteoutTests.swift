import Foundation
import Testing
@testable import ImgsyncCore
import ImgsyncTestSupport

/// docs/conformance.md U34–U36, U39–U61 (whiteouts, opaque whiteouts), U62–U63 (AUFS metadata).
@Suite struct LayerApplierWhiteoutTests {
    @Test func u34WhiteoutsInASubdir() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder()
        l1.dir("s/"); l1.dir("s/t/"); l1.file("s/t/x", "x"); l1.file("s/t/y", "y"); l1.dir("s/t/u/"); l1.file("s/t/u/z", "z")
        var l2 = TarBuilder(); l2.whiteout("s/t/.wh.x"); l2.whiteout("s/t/.wh.u")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("s"), .dir("s/t"), .file("s/t/y", "y")])
        s.checkSentinel()
    }

    @Test func u35HiddenNames() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder()
        l1.file(".hidden", "h"); l1.dir(".hdir/"); l1.file(".hdir/x", "x"); l1.file(".baz", "b"); l1.file("keep", "k")
        var l2 = TarBuilder(); l2.whiteout(".wh..hidden"); l2.whiteout(".wh..hdir"); l2.whiteout(".wh..baz")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.file("keep", "k")])
        s.checkSentinel()
    }

    @Test func u36WhiteoutThenRecreateAsAnotherType() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("x/"); l1.file("x/old", "o")
        var l2 = TarBuilder(); l2.whiteout(".wh.x"); l2.file("x", "file")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.file("x", "file")])
        s.checkSentinel()
    }

    @Test func u39WhiteoutOfAMissingPath() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("a", "a")
        var l2 = TarBuilder(); l2.whiteout(".wh.ghost"); l2.whiteout("nodir/.wh.x"); l2.whiteout("n2/deep/.wh.y")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.file("a", "a")])
        s.checkSentinel()
    }

    @Test func u40WhiteoutUnderAFile() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("f", "f")
        var l2 = TarBuilder(); l2.whiteout("f/.wh.x")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.file("f", "f")])
        s.checkSentinel()
    }

    @Test func u41WhiteoutOfASymlinkRemovesOnlyTheLink() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("etc/"); l1.file("etc/passwd", "all"); l1.symlink("localetc", target: "/etc")
        var l2 = TarBuilder(); l2.whiteout(".wh.localetc")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("etc"), .file("etc/passwd", "all")])
        s.checkSentinel()
    }

    @Test func u42WhiteoutThroughASymlinkedParent() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder()
        l1.dir("etc/"); l1.file("etc/passwd", "all"); l1.file("etc/whitedout", "w"); l1.symlink("localetc", target: "/etc")
        var l2 = TarBuilder(); l2.whiteout("localetc/.wh.whitedout")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("etc"), .file("etc/passwd", "all"), .link("localetc", "/etc")])
        s.checkSentinel()
    }

    @Test func u43WhiteoutThroughADanglingSymlinkParent() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("etc/"); l1.file("etc/passwd", "all"); l1.symlink("localetc", target: "/dne")
        var l2 = TarBuilder(); l2.whiteout("localetc/.wh.etc")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("etc"), .file("etc/passwd", "all"), .link("localetc", "/dne")])
        s.checkSentinel()
    }

    @Test func u44WhiteoutNameWithDotDot() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("etc/"); l1.file("etc/passwd", "p")
        var l2 = TarBuilder(); l2.whiteout("dne/../.wh.etc")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([])
        s.checkSentinel()
    }

    @Test func u45WhiteoutOfOneHardlinkName() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("a", "x"); l1.hardlink("b", target: "a")
        var l2 = TarBuilder(); l2.whiteout(".wh.a")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.file("b", "x")])
        #expect(r.entry("b")?.linkGroup == 0, "b has nlink 1")
        s.checkSentinel()
    }

    @Test func u46WhiteoutEntryOfOddTypeOrSize() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("a", "a"); l1.file("b", "b")
        var l2 = TarBuilder(); l2.dir(".wh.a/"); l2.file(".wh.b", "junk")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([])
        s.checkSentinel()
    }

    @Test func u47WhiteoutKeepsTheParentsAttributes() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("d/", mode: 0o555, mtime: CT.T1); l1.file("d/x", "x"); l1.file("d/y", "y")
        var l2 = TarBuilder(); l2.whiteout("d/.wh.x")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("d", mode: 0o555, mtime: CT.T1), .file("d/y", "y")])
        s.checkSentinel()
    }

    @Test(arguments: [".wh.", "some/path/.wh."])
    func u48WhiteoutWithNoBasename(_ name: String) throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("some/path/"); l1.file("some/path/f", "f")
        var l2 = TarBuilder(); l2.whiteout(name)
        s.expectFailure(.invalidWhiteout, [l1.build(), l2.build()])
    }

    @Test(arguments: [".wh..", "etc/.wh..", ".wh...", "etc/.wh..."])
    func u49u50DotWhiteouts(_ name: String) throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("etc/"); l1.file("etc/passwd", "p")
        var l2 = TarBuilder(); l2.whiteout(name)
        s.expectFailure(.invalidWhiteout, [l1.build(), l2.build()])
    }

    @Test(arguments: [".wh.etc/somefile", "a/.wh.b/c", ".wh.d/e/"])
    func u51WhiteoutPrefixInANonFinalComponent(_ name: String) throws {
        let s = try LayerSandbox()
        var l2 = TarBuilder()
        if name.hasSuffix("/") { l2.dir(name) } else { l2.file(name, "x") }
        s.expectFailure(.invalidWhiteout, [l2.build()])
    }

    // MARK: Opaque whiteouts

    @Test func u52OpaqueBasic() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("a/"); l1.file("a/x", "x"); l1.dir("a/sub/"); l1.file("a/sub/y", "y"); l1.file("top", "t")
        var l2 = TarBuilder(); l2.dir("a/"); l2.opaque("a/")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("a"), .file("top", "t")])
        s.checkSentinel()
    }

    func u53Lower() -> TarBuilder {
        var l1 = TarBuilder(); l1.dir("a/"); l1.dir("a/b/"); l1.dir("a/b/c/"); l1.file("a/b/c/bar", "bar"); return l1
    }

    @Test func u53MarkerAfterReAddedChildren() throws {
        let s = try LayerSandbox()
        var l2 = TarBuilder(); l2.dir("a/"); l2.dir("a/b/"); l2.dir("a/b/c/"); l2.file("a/b/c/foo", "f"); l2.opaque("a/")
        let r = try s.apply([u53Lower().build(), l2.build()])
        r.expectTree([.dir("a"), .dir("a/b"), .dir("a/b/c"), .file("a/b/c/foo", "f")])
        s.checkSentinel()
    }

    @Test func u54MarkerBeforeReAddedChildren() throws {
        let s = try LayerSandbox()
        var l2 = TarBuilder(); l2.dir("a/"); l2.opaque("a/"); l2.dir("a/b/"); l2.dir("a/b/c/"); l2.file("a/b/c/foo", "f")
        let r = try s.apply([u53Lower().build(), l2.build()])
        r.expectTree([.dir("a"), .dir("a/b"), .dir("a/b/c"), .file("a/b/c/foo", "f")])
        s.checkSentinel()
    }

    @Test func u55ReAddedChildOfALowerDir() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("foo/"); l1.dir("foo/cde/"); l1.file("foo/cde/old", "o"); l1.file("foo/keep", "k")
        var l2 = TarBuilder(); l2.dir("foo/"); l2.opaque("foo/"); l2.dir("foo/cde/"); l2.file("foo/cde/efg", "e")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("foo"), .dir("foo/cde"), .file("foo/cde/efg", "e")])
        s.checkSentinel()
    }

    @Test func u56RootLevelOpaque() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("x", "x"); l1.dir("d/"); l1.file("d/y", "y")
        var l2 = TarBuilder(); l2.opaque(""); l2.file("z", "z")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.file("z", "z")])
        s.checkSentinel()
    }

    @Test func u57OpaqueWithAMissingDirOrOnAFile() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("f", "f")
        var l2 = TarBuilder(); l2.opaque("nodir/"); l2.opaque("f/")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.file("f", "f")])
        s.checkSentinel()
    }

    @Test func u58OpaquePlusDirAttributesReplaced() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("a/", mode: 0o700, mtime: CT.T1); l1.file("a/x", "x")
        var l2 = TarBuilder(); l2.dir("a/", mode: 0o755, mtime: CT.T2); l2.opaque("a/")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("a", mode: 0o755, mtime: CT.T2)])
        s.checkSentinel()
    }

    @Test func u59NestedOpaques() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("a/"); l1.file("a/1", "1"); l1.dir("a/b/"); l1.file("a/b/2", "2")
        var l2 = TarBuilder(); l2.dir("a/"); l2.opaque("a/"); l2.dir("a/b/"); l2.opaque("a/b/"); l2.file("a/b/3", "3")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("a"), .dir("a/b"), .file("a/b/3", "3")])
        s.checkSentinel()
    }

    @Test func u60OpaquePlusExplicitWhiteoutPlusNewFile() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("a/"); l1.file("a/x", "x"); l1.file("a/w", "w")
        var l2 = TarBuilder(); l2.dir("a/"); l2.whiteout("a/.wh.w"); l2.opaque("a/"); l2.file("a/y", "y")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("a"), .file("a/y", "y")])
        s.checkSentinel()
    }

    @Test func u61OpaqueWhereOnlyAnUpperDescendantExists() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("a/"); l1.dir("a/b/"); l1.file("a/b/old", "o"); l1.file("a/z", "z")
        var l2 = TarBuilder(); l2.file("a/b/new", "n"); l2.opaque("a/")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("a"), .dir("a/b"), .file("a/b/new", "n")])
        s.checkSentinel()
    }

    // MARK: AUFS metadata

    @Test func u62AUFSMetaSkipped() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("keep", "k")
        var l2 = TarBuilder(); l2.dir(".wh..wh.plnk/"); l2.file(".wh..wh.aufs", ""); l2.dir(".wh..wh.orph/"); l2.file("x", "x")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.file("keep", "k"), .file("x", "x")])
        s.checkSentinel()
    }

    @Test func u63AUFSPlnkHardlinks() throws {
        let s = try LayerSandbox()
        var l2 = TarBuilder()
        l2.dir(".wh..wh.plnk/"); l2.file(".wh..wh.plnk/260.12", "body")
        l2.hardlink("usr/bin/a", target: ".wh..wh.plnk/260.12"); l2.hardlink("usr/bin/b", target: ".wh..wh.plnk/260.12")
        let r = try s.apply([l2.build()])
        r.expectTree([.implied("usr"), .implied("usr/bin"), .file("usr/bin/a", "body"), .file("usr/bin/b", "body")])
        s.checkSentinel()
    }
}
