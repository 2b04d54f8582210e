import Foundation
import Testing
@testable import ImgsyncCore
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// docs/conformance.md U97–U110: symlinks and resolution through them (D2).
@Suite struct LayerApplierSymlinkTests {
    @Test func u97TargetsKeptVerbatim() throws {
        let s = try LayerSandbox()
        let links: [(String, String)] = [
            ("home/derek/other", "../other"), ("home/derek/etc", "../../etc"), ("home/derek/updown", "up/../../other"),
            ("home/derek/breakout", "../../../breakout"), ("breakout", "../../breakout"), ("upandout", "etc/../../upandout"),
            ("localetc", "/etc"), ("main", "/app/main.js"),
        ]
        var t = TarBuilder(); t.dir("home/derek/")
        for (n, target) in links { t.symlink(n, target: target) }
        let r = try s.apply([t.build()])
        r.expectTree([.implied("home"), .dir("home/derek")] + links.map { .link($0.0, $0.1) })
        s.checkSentinel()
    }

    @Test func u98DanglingLinksAndLoopsAreStored() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.symlink("dangling", target: "nowhere"); t.symlink("loop1", target: "loop2"); t.symlink("loop2", target: "loop1")
        t.symlink("self", target: "self")
        let r = try s.apply([t.build()])
        r.expectTree([.link("dangling", "nowhere"), .link("loop1", "loop2"), .link("loop2", "loop1"), .link("self", "self")])
        s.checkSentinel()
    }

    @Test func u99WriteThroughALoop() throws {
        let s = try LayerSandbox()
        var t = TarBuilder(); t.symlink("a", target: "b"); t.symlink("b", target: "a"); t.file("a/x", "x")
        s.expectFailure(.loop, [t.build()])
    }

    @Test func u100AbsoluteLinkSameLayerMissingTarget() throws {
        let s = try LayerSandbox()
        let hostBefore = lstatPath("/host-etc") != nil
        var t = TarBuilder(); t.symlink("etc", target: "/host-etc"); t.file("etc/passwd", "p")
        let r = try s.apply([t.build()])
        r.expectTree([.link("etc", "/host-etc"), .implied("host-etc"), .file("host-etc/passwd", "p")])
        #expect((lstatPath("/host-etc") != nil) == hostBefore, "host /host-etc created")
        s.checkSentinel()
    }

    @Test func u101AbsoluteLinkInALowerLayer() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("var/"); l1.symlink("var/run", target: "/run")
        var l2 = TarBuilder(); l2.file("var/run/existing/non-existing/file", "content")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("var"), .link("var/run", "/run"), .implied("run"), .implied("run/existing"),
                      .implied("run/existing/non-existing"), .file("run/existing/non-existing/file", "content")])
        s.checkSentinel()
    }

    @Test(arguments: [false, true])
    func u102RelativeEscapeIsClamped(_ sameLayer: Bool) throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.symlink("up", target: "../../..")
        var l2 = TarBuilder(); l2.file("up/x", "x")
        let layers: [[UInt8]] = sameLayer ? [{ var t = l1; t.file("up/x", "x"); return t.build() }()] : [l1.build(), l2.build()]
        let r = try s.apply(layers)
        r.expectTree([.link("up", "../../.."), .file("x", "x")])
        s.checkSentinel()
    }

    @Test func u103RelativeEscapeThenAnAbsoluteLink() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("target/"); l1.symlink("escape", target: ".."); l1.symlink("absolute", target: "/target")
        var l2 = TarBuilder(); l2.file("escape/absolute/file", "f")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("target"), .file("target/file", "f"), .link("escape", ".."), .link("absolute", "/target")])
        s.checkSentinel()
    }

    @Test func u104TwoHopBreakout() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.symlink("go_up", target: ".."); t.symlink("go_up/escape", target: "../victim"); t.file("go_up/escape/hello", "pwned")
        let r = try s.apply([t.build()])
        r.expectTree([.link("go_up", ".."), .link("escape", "../victim"), .implied("victim"), .file("victim/hello", "pwned")])
        s.checkSentinel()
    }

    @Test func u105LoopholeInASubdir() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.dir("dir/"); t.symlink("dir/loophole", target: "../../victim"); t.file("dir/loophole/newdir/newfile", "n")
        let r = try s.apply([t.build()])
        r.expectTree([.dir("dir"), .link("dir/loophole", "../../victim"), .implied("victim"), .implied("victim/newdir"),
                      .file("victim/newdir/newfile", "n")])
        s.checkSentinel()
    }

    @Test func u106PathOverrideCVE202547290() throws {
        let s = try LayerSandbox()
        let hostBefore = lstatPath("/tmp/b") != nil
        var t = TarBuilder()
        t.dir("foo/"); t.dir("foo/tmp/"); t.file("foo/tmp/b", "012"); t.symlink("foo", target: "/")
        t.file("foo/tmp/b", "345"); t.dir("foo/"); t.dir("foo/tmp/"); t.file("foo/tmp/b", "678")
        let r = try s.apply([t.build()])
        r.expectTree([.dir("foo"), .dir("foo/tmp"), .file("foo/tmp/b", "678"), .implied("tmp"), .file("tmp/b", "345")])
        #expect((lstatPath("/tmp/b") != nil) == hostBefore, "host /tmp/b created")
        s.checkSentinel()
    }

    @Test func u107MultiHop() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.dir("etc/"); t.dir("dummy/"); t.symlink("dummy/etc", target: "/etc"); t.symlink("localetc", target: "./dummy/etc")
        t.file("localetc/unbroken", "unbroken")
        let r = try s.apply([t.build()])
        r.expectTree([.dir("etc"), .file("etc/unbroken", "unbroken"), .dir("dummy"), .link("dummy/etc", "/etc"),
                      .link("localetc", "./dummy/etc")])
        s.checkSentinel()
    }

    @Test func u108EmptyFileWrittenThroughALink() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.dir("etc/"); t.file("etc/emptied", "notempty"); t.symlink("localetc", target: "/etc"); t.file("localetc/emptied", "")
        let r = try s.apply([t.build()])
        r.expectTree([.dir("etc"), .file("etc/emptied", ""), .link("localetc", "/etc")])
        s.checkSentinel()
    }

    @Test func u109ImpliedParentsThroughALowerLink() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.dir("usr/"); l1.dir("usr/lib/"); l1.symlink("lib", target: "usr/lib")
        var l2 = TarBuilder(); l2.file("lib/x/y.so", "so")
        let r = try s.apply([l1.build(), l2.build()])
        r.expectTree([.dir("usr"), .dir("usr/lib"), .implied("usr/lib/x"), .file("usr/lib/x/y.so", "so"), .link("lib", "usr/lib")])
        s.checkSentinel()
    }

    @Test func u110LinkNameThatNeedsCleaning() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.dir("etc/"); t.file("etc/passwd", "inside"); t.symlink("localetc/sub/..", target: "/etc/")
        t.hardlink("localetc/localpasswd", target: "/etc/passwd")
        let r = try s.apply([t.build()])
        r.expectTree([.dir("etc"), .file("etc/passwd", "inside"), .file("etc/localpasswd", "inside"), .link("localetc", "/etc/")])
        #expect(r.same("etc/localpasswd", "etc/passwd"))
        s.checkSentinel()
    }
}
