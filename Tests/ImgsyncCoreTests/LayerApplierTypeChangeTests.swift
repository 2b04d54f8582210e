import Foundation
import Testing
@testable import ImgsyncCore
import ImgsyncTestSupport
import CImgsyncSys
#if canImport(Glibc)
import Glibc
#endif

/// docs/conformance.md U64–U79: type changes, existing paths, duplicates, non-dir parents.
@Suite struct LayerApplierTypeChangeTests {
    @Test func u64FileToDir() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("x", "f")
        var l2 = TarBuilder(); l2.dir("x/"); l2.file("x/y", "y")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("x"), .file("x/y", "y")])
        s.checkSentinel()
    }

    @Test func u65DirToFileRemovesTheSubtree() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("x/"); l1.dir("x/s/"); l1.file("x/s/deep", "d")
        var l2 = TarBuilder(); l2.file("x", "f")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.file("x", "f")])
        s.checkSentinel()
    }

    @Test func u66FileToSymlink() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("x", "f")
        var l2 = TarBuilder(); l2.symlink("x", target: "/victim/hello")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.link("x", "/victim/hello")])
        s.checkSentinel()
    }

    @Test func u67SymlinkToFileNeverWrittenThrough() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.symlink("x", target: "/victim/hello"); l1.symlink("y", target: "../../victim/hello")
        var l2 = TarBuilder(); l2.file("x", "pwn"); l2.file("y", "pwn2")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.file("x", "pwn"), .file("y", "pwn2")])
        s.checkSentinel()
    }

    @Test func u68SymlinkToFileSameLayer() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.symlink("x", target: "/victim/hello"); t.file("x", "pwn")
        let r = try s.apply([t.build()])
        r.expectTree([.file("x", "pwn")])
        s.checkSentinel()
    }

    @Test func u69DirToSymlink() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("x/"); l1.file("x/a", "a")
        var l2 = TarBuilder(); l2.symlink("x", target: "/usr")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.link("x", "/usr")])
        s.checkSentinel()
    }

    @Test func u70SymlinkToDirReplacedByADirEntry() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("real/"); l1.file("real/r", "r"); l1.symlink("link", target: "real")
        var l2 = TarBuilder(); l2.dir("link/"); l2.file("link/n", "n")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("real"), .file("real/r", "r"), .dir("link"), .file("link/n", "n")])
        s.checkSentinel()
    }

    @Test func u71DirOverASymlinkThatAnOldHardlinkWentThrough() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder()
        l1.dir("etc/"); l1.file("etc/passwd", "inside"); l1.symlink("localetc", target: "etc")
        l1.hardlink("localetc/localpasswd", target: "etc/passwd")
        var l2 = TarBuilder(); l2.dir("localetc/"); l2.file("localetc/localpasswd", "different")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("etc"), .file("etc/passwd", "inside"), .file("etc/localpasswd", "inside"),
                      .dir("localetc"), .file("localetc/localpasswd", "different")])
        #expect(r.same("etc/localpasswd", "etc/passwd"))
        #expect(r.distinct("localetc/localpasswd", "etc/passwd"))
        s.checkSentinel()
    }

    @Test func u72DirOverDirAttributesReplacedChildrenKept() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder()
        l1.dir("a/", mode: 0o700, uid: 1, gid: 1, mtime: CT.T1, xattrs: [.schily("user.k", "1")]); l1.file("a/x", "x")
        var l2 = TarBuilder(); l2.dir("a/", mode: 0o755, uid: 2, gid: 2, mtime: CT.T2)
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("a", mode: 0o755, mtime: CT.T2), .file("a/x", "x")])
        let a = r.entry("a")
        #expect(a?.uid == 2 && a?.gid == 2)
        #expect(a?.xattrs.contains { $0.name == Array("user.k".utf8) } == false, "user.k kept: \(String(describing: a?.xattrs))")
        var buf = [UInt8](repeating: 0, count: 64)
        let n = (r.tree + "/a").withCString { p in buf.withUnsafeMutableBytes { lgetxattr(p, "user.k", $0.baseAddress, $0.count) } }
        #expect(n < 0, "user.k still on disk")
        s.checkSentinel()
    }

    @Test func u73FileToHardlinkAndBack() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("a", "A"); l1.file("b", "B")
        var l2 = TarBuilder(); l2.hardlink("b", target: "a")
        var l3 = TarBuilder(); l3.file("b", "C")
        let r = try s.apply([l1.build(), l2.build(), l3.build()])
        r.expectTree([.file("a", "A"), .file("b", "C")])
        #expect(r.distinct("a", "b"))
        s.checkSentinel()
    }

    @Test func u74DeviceToFileAndFileToFIFO() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.charDevice("dev/x", major: 1, minor: 3); l1.file("run/p", "p")
        var l2 = TarBuilder(); l2.file("dev/x", "f"); l2.fifo("run/p")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.implied("dev"), .file("dev/x", "f"), .implied("run"), .special("run/p", .fifo)])
        #expect(r.entry("dev/x")?.devMajor == 0 && r.entry("dev/x")?.devMinor == 0, "device record left on dev/x")
        s.checkSentinel()
    }

    @Test func u75DuplicateFiles() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.file("a", "1"); t.file("a", "2")
        let r = try s.apply([t.build()])
        r.expectTree([.file("a", "2")])
        s.checkSentinel()
    }

    @Test func u76DuplicateDirsMergeDuplicateSymlinks() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.dir("d/", mode: 0o700); t.file("d/x", "x"); t.dir("d/", mode: 0o755); t.symlink("s", target: "one"); t.symlink("s", target: "two")
        let r = try s.apply([t.build()])
        r.expectTree([.dir("d", mode: 0o755), .file("d/x", "x"), .link("s", "two")])
        s.checkSentinel()
    }

    @Test func u77FileThenDirDirThenFileSameLayer() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.file("a", "f"); t.dir("a/"); t.file("a/b", "b"); t.dir("c/"); t.file("c/k", "k"); t.file("c", "c")
        let r = try s.apply([t.build()])
        r.expectTree([.dir("a"), .file("a/b", "b"), .file("c", "c")])
        s.checkSentinel()
    }

    @Test func u78NonDirAncestorSameLayer() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.file("x", "f"); t.file("x/y/z", "z")
        let r = try s.apply([t.build()])
        r.expectTree([.implied("x"), .implied("x/y"), .file("x/y/z", "z")])
        s.checkSentinel()
    }

    @Test func u79NonDirAncestorFromALowerLayer() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("x", "f")
        var l2 = TarBuilder(); l2.file("x/y", "y")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.implied("x"), .file("x/y", "y")])
        s.checkSentinel()
    }
}
