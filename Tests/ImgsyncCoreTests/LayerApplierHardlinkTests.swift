import Foundation
import Testing
@testable import ImgsyncCore
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// docs/conformance.md U80–U96: hardlinks (D6).
@Suite struct LayerApplierHardlinkTests {
    @Test func u80SameLayerHardlink() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.file("a", "x"); t.hardlink("b", target: "a")
        let r = try s.apply([t.build()])
        r.expectTree([.file("a", "x"), .file("b", "x")])
        #expect(r.same("b", "a"))
        #expect(r.objects(for: "x").count == 1, "one CAS object: \(r.objects(for: "x"))")
        s.checkSentinel()
    }

    @Test func u81Chain() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.file("a", "x"); t.hardlink("b", target: "a"); t.hardlink("c", target: "b"); t.hardlink("d", target: "/c")
        let r = try s.apply([t.build()])
        r.expectTree([.file("a", "x"), .file("b", "x"), .file("c", "x"), .file("d", "x")])
        #expect(r.same("b", "a")); #expect(r.same("c", "a")); #expect(r.same("d", "a"))
        s.checkSentinel()
    }

    @Test func u82TargetAppearsLaterInTheStream() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.hardlink("b", target: "a"); t.file("a", "x")
        s.expectFailure(.hardlinkTarget, [t.build()])
    }

    @Test func u83StreamOrderVersusRedefinition() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("a", "old")
        var l2 = TarBuilder(); l2.hardlink("b", target: "a"); l2.file("a", "new")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.file("a", "new"), .file("b", "old")])
        #expect(r.distinct("a", "b"))
        s.checkSentinel()
    }

    @Test func u84TargetInALowerLayer() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("usr/"); l1.file("usr/a", "x")
        var l2 = TarBuilder(); l2.hardlink("usr/b", target: "usr/a")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("usr"), .file("usr/a", "x"), .file("usr/b", "x")])
        #expect(r.same("usr/b", "usr/a"))
        s.checkSentinel()
    }

    @Test func u85AbsoluteTargetReRooted() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.file("regular", "r"); t.hardlink("hard link", target: "/regular"); t.dir("usr/bin/")
        t.file("usr/bin/perl", "p"); t.hardlink("usr/bin/perlbug", target: "/usr/bin/perl")
        let r = try s.apply([t.build()])
        r.expectTree([.file("regular", "r"), .file("hard link", "r"), .implied("usr"), .dir("usr/bin"),
                      .file("usr/bin/perl", "p"), .file("usr/bin/perlbug", "p")])
        #expect(r.same("hard link", "regular"))
        #expect(r.same("usr/bin/perlbug", "usr/bin/perl"))
        s.checkSentinel()
    }

    @Test func u86TargetThroughALowerLayerAbsoluteSymlink() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("var/"); l1.symlink("var/run", target: "/run")
        var l2 = TarBuilder(); l2.file("var/run/source", "c"); l2.hardlink("var/run/link", target: "var/run/source")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("var"), .link("var/run", "/run"), .implied("run"), .file("run/source", "c"), .file("run/link", "c")])
        #expect(r.same("run/link", "run/source"))
        s.checkSentinel()
    }

    @Test func u87TargetThroughSymlinkedDirsIsClamped() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.dir("etc/", mode: 0o770); t.file("etc/passwd", "inside"); t.dir("breakouts/")
        t.symlink("breakouts/d1", target: "../../etc"); t.hardlink("breakouts/mypasswd", target: "/breakouts/d1/passwd")
        t.symlink("localetc", target: "/etc"); t.hardlink("localpasswd", target: "/localetc/passwd")
        let r = try s.apply([t.build()])
        r.expectTree([.dir("etc", mode: 0o770), .file("etc/passwd", "inside"), .dir("breakouts"),
                      .link("breakouts/d1", "../../etc"), .file("breakouts/mypasswd", "inside"),
                      .link("localetc", "/etc"), .file("localpasswd", "inside")])
        #expect(r.same("breakouts/mypasswd", "etc/passwd"))
        #expect(r.same("localpasswd", "etc/passwd"))
        s.checkSentinel()
    }

    @Test func u88HardlinkToASymlinkLinksTheLink() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.dir("etc/"); t.file("etc/passwd", "inside"); t.symlink("passwdlink", target: "/etc/passwd")
        t.hardlink("localpasswd", target: "/passwdlink")
        let r = try s.apply([t.build()])
        r.expectTree([.dir("etc"), .file("etc/passwd", "inside"), .link("passwdlink", "/etc/passwd"),
                      .link("localpasswd", "/etc/passwd")])
        #expect(r.same("localpasswd", "passwdlink"))
        #expect(r.entry("etc/passwd")?.linkGroup == 0, "etc/passwd has nlink 1")
        s.checkSentinel()
    }

    @Test func u89LinkToASymlinkWhoseTargetComesLater() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.dir("etc/"); t.symlink("localpasswd", target: "/etc/passwd"); t.hardlink("localpasswd-dup", target: "localpasswd")
        t.file("etc/passwd", "after")
        let r = try s.apply([t.build()])
        r.expectTree([.dir("etc"), .file("etc/passwd", "after"), .link("localpasswd", "/etc/passwd"),
                      .link("localpasswd-dup", "/etc/passwd")])
        #expect(r.same("localpasswd-dup", "localpasswd"))
        s.checkSentinel()
    }

    @Test func u90ChmodThroughALinkedSymlink() throws {
        let s = try LayerSandbox()
        let before = lstatPath(s.base + "/victim/hello")
        var t = TarBuilder()
        t.symlink("t/ep", target: "/victim/hello"); t.hardlink("sketchylink", target: "t/ep", mode: 0o4777)
        let r = try s.apply([t.build()])
        r.expectTree([.implied("t"), .link("t/ep", "/victim/hello"), .link("sketchylink", "/victim/hello")])
        #expect(r.same("sketchylink", "t/ep"))
        #expect(lstatPath(s.base + "/victim/hello")?.st_mode == before?.st_mode)
        s.checkSentinel()
    }

    @Test(arguments: ["../../victim/hello", "../dest-evil/secret", "/../victim/hello"])
    func u91EscapingTargets(_ target: String) throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.hardlink("x", target: target)
        s.expectFailure(.traversal, [t.build()])
    }

    @Test func u92HardlinkToADirectory() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.dir("d/"); t.hardlink("h", target: "d")
        s.expectFailure(.hardlinkDir, [t.build()])
    }

    @Test func u93TargetOverwrittenAfterLinking() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.file("a", "1"); t.hardlink("b", target: "a"); t.file("a", "2")
        let r = try s.apply([t.build()])
        r.expectTree([.file("a", "2"), .file("b", "1")])
        #expect(r.distinct("a", "b"))
        #expect(!r.objects(for: "1").isEmpty, "sha256(\"1\") is in CAS")
        s.checkSentinel()
    }

    @Test func u94OneNameOverwrittenInALaterLayer() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("a", "1"); l1.hardlink("b", target: "a")
        var l2 = TarBuilder(); l2.file("b", "2")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.file("a", "1"), .file("b", "2")])
        #expect(r.distinct("a", "b"))
        s.checkSentinel()
    }

    @Test func u95HardlinkHeaderMetadataIgnored() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.file("a", "x", mode: 0o644, uid: 0, mtime: CT.T1)
        t.hardlink("b", target: "a", mode: 0o777, uid: 1337, gid: 2020, mtime: CT.T2)
        let r = try s.apply([t.build()])
        r.expectTree([.file("a", "x", mode: 0o644), .file("b", "x", mode: 0o644)])
        #expect(r.same("b", "a"))
        for p in ["a", "b"] {
            let e = r.entry(p)
            #expect(e?.mode == 0o644, "\(p) mode")
            #expect(e?.uid == 0 && e?.gid == 0, "\(p) uid/gid \(String(describing: e?.uid))/\(String(describing: e?.gid))")
            #expect(e?.mtime == CT.T1, "\(p) mtime")
        }
        s.checkSentinel()
    }

    @Test func u96SelfLink() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.hardlink("a", target: "a")
        s.expectFailure(.hardlinkTarget, [t.build()])
        let s2 = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("a", "a")
        var l2 = TarBuilder(); l2.hardlink("a", target: "a")
        s2.expectFailure(.hardlinkTarget, [l1.build(), l2.build()])
    }

    /// A hardlink whose name is a directory holding its target: replacing the directory would
    /// remove the target first, so the entry is refused with the target named (in the same layer
    /// and over a lower one), and nothing outside the root changes.
    @Test func aHardlinkReplacingTheDirectoryOfItsTargetIsRefused() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.dir("a/"); t.dir("a/b/"); t.file("a/b/f", "body"); t.hardlink("a", target: "a/b/f")
        s.expectFailure(.hardlinkTarget, [t.build()])
        s.checkSentinel()
        let s2 = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("a/"); l1.file("a/f", "body")
        var l2 = TarBuilder(); l2.hardlink("a", target: "a/f")
        s2.expectFailure(.hardlinkTarget, [l1.build(), l2.build()])
        s2.checkSentinel()
    }
}
