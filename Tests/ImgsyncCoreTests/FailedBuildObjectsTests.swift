import Foundation
import Testing
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Issue 8, item 5: a failed build takes back the bodies it stored that no catalog lists, and
/// never one that another build uses.
@Suite struct FailedBuildObjectsTests {
    func layer(_ files: [(String, String)]) -> [UInt8] {
        var t = TarBuilder()
        for (path, body) in files { t.file(path, body) }
        return t.build()
    }

    func input(_ bytes: [UInt8], _ name: String) -> LayerInput {
        LayerInput(source: BytesSource(bytes), name: name, expect: LayerExpectations(compression: .none))
    }

    static let escape: [UInt8] = {
        var t = TarBuilder()
        t.file("../escape", "x")
        return t.build()
    }()

    @Test(arguments: [LinkMode.hardlink, .copy])
    func bodiesOfTheFailedLayerGoThoseOfEarlierLayersStay(mode: LinkMode) throws {
        let s = try LayerSandbox()
        do {
            let b = try ImageBuilder(repository: s.repository, linkMode: mode)
            try b.apply(input(layer([("a", "layer-one-body")]), "L1"))
            // Stored, then the layer fails on its last entry.
            var t = TarBuilder()
            t.file("b", "layer-two-body")
            t.file("c", String(repeating: "big body ", count: 200_000))
            t.file("../escape", "x")
            #expect(throws: ImgsyncError.self) { try b.apply(input(t.build(), "L2")) }
            #expect(Probe.exists(Probe.objectPath(s.root, "layer-two-body")), "stored while the layer applied")
        }
        // The chain catalog of L1 lists its body: it stays for the next build of that chain.
        #expect(Probe.exists(Probe.objectPath(s.root, "layer-one-body")))
        #expect(!Probe.exists(Probe.objectPath(s.root, "layer-two-body")))
        #expect(!Probe.exists(Probe.objectPath(s.root, String(repeating: "big body ", count: 200_000))))
        #expect(HostileTree.names(s.root + "/.imgsync/staging").isEmpty)
        #expect(HostileTree.names(s.root + "/.objects/tmp").isEmpty)
        #expect(s.repository.pendingObjects.pendingCount == 0)
        let r = try Verifier(repository: s.repository).run()
        #expect(r.problems.isEmpty, "\(r.problems)")
    }

    @Test(arguments: [LinkMode.hardlink, .copy])
    func anObjectAnotherBuildUsedStays(mode: LinkMode) throws {
        let s = try LayerSandbox()
        let shared = "body both builds hold"
        var failing: ImageBuilder? = try ImageBuilder(repository: s.repository, linkMode: mode)
        // The failing layer stores the body first; the other build uses it; then the layer fails.
        // (A layer is applied in one call: the other build uses the object from a second
        // builder opened before, which is what concurrent builds of a sync do.)
        let other = try ImageBuilder(repository: s.repository, linkMode: mode)
        var failingLayer = TarBuilder()
        failingLayer.file("x", shared)
        try failing!.applyGenerated(failingLayer.build(), name: "A1")
        try other.apply(input(layer([("y", shared)]), "B1"))
        #expect(other.bodiesReused == 1, "the second build found the first one's object")
        #expect(throws: ImgsyncError.self) { try failing!.apply(input(Self.escape, "A2")) }
        failing = nil
        #expect(Probe.exists(Probe.objectPath(s.root, shared)))
        _ = try other.publish(as: try PublishedName("org/other:1"))
        #expect(Probe.exists(Probe.objectPath(s.root, shared)))
        let r = try Verifier(repository: s.repository).run()
        #expect(r.problems.isEmpty, "\(r.problems)")
    }

    @Test func removalWaitsUntilNoOtherBuildIsOpen() throws {
        let s = try LayerSandbox()
        let body = "only the failed build holds this"
        var failing: ImageBuilder? = try ImageBuilder(repository: s.repository, linkMode: .copy)
        var bystander: ImageBuilder? = try ImageBuilder(repository: s.repository, linkMode: .copy)
        var t = TarBuilder()
        t.file("x", body)
        t.file("../escape", "x")
        #expect(throws: ImgsyncError.self) { try failing!.apply(input(t.build(), "A1")) }
        failing = nil
        // Another build is open: it might be between finding the object and using it.
        #expect(Probe.exists(Probe.objectPath(s.root, body)))
        bystander = nil
        #expect(!Probe.exists(Probe.objectPath(s.root, body)))
        _ = bystander
    }

    @Test func aBuildThatPublishesKeepsEverything() throws {
        let s = try LayerSandbox()
        let img = try s.apply([layer([("x", "kept-1")]), layer([("y", "kept-2")])], link: .copy, name: "org/app:1")
        #expect(Probe.exists(Probe.objectPath(s.root, "kept-1")))
        #expect(Probe.exists(Probe.objectPath(s.root, "kept-2")))
        #expect(s.repository.pendingObjects.pendingCount == 0)
        #expect(try Verifier(repository: s.repository).run().problems.isEmpty)
        _ = img
    }
}
