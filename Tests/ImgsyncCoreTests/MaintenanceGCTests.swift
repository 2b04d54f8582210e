import Foundation
import Testing
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// GC (docs/design.md §3.7): grace period, dependency order, dry run, bounded work.
@Suite struct MaintenanceGCTests {
    /// Two images: A has `keep` and `shared`, B has `gone` and `shared`.
    func twoImages(_ s: LayerSandbox) throws -> (a: PublishedImage, b: PublishedImage) {
        var la = TarBuilder(); la.file("keep", "body-kept"); la.file("shared", "body-shared")
        var lb = TarBuilder(); lb.file("gone", "body-gone"); lb.file("shared", "body-shared")
        let a = try s.apply([la.build()], name: "org/a:1").published
        let b = try s.apply([lb.build()], name: "org/b:1").published
        return (a, b)
    }

    func gc(_ s: LayerSandbox, grace: TimeInterval, at now: Date, dryRun: Bool = false, max: Int = 100_000) throws -> GCReport {
        try s.collectGarbage(grace: grace, at: now, dryRun: dryRun, max: max)
    }

    @Test func unreferencedTreeGoesOnlyAfterTheGracePeriod() throws {
        let s = try LayerSandbox()
        let (a, b) = try twoImages(s)
        try s.repository.unpublish(try PublishedName("org/b:1"))
        let t0 = Date()

        let first = try gc(s, grace: 60, at: t0)
        #expect(first.newlyUnreferenced == [b.imageID.hex])
        #expect(first.deletions == 0)
        #expect(Probe.exists(b.treePath))
        #expect(try s.repository.readState().unreferencedSince[b.imageID.hex] != nil)

        let second = try gc(s, grace: 60, at: t0.addingTimeInterval(30))
        #expect(second.deletions == 0)
        #expect(second.pending[b.imageID.hex] != nil)
        #expect(Probe.exists(b.treePath))

        let third = try gc(s, grace: 60, at: t0.addingTimeInterval(61))
        #expect(third.treesDeleted == [b.imageID.hex])
        #expect(third.failures.isEmpty, "\(third.failures)")
        #expect(!Probe.exists(b.treePath))
        #expect(!Probe.exists(s.repository.imageCatalogPath(b.imageID)))
        #expect(!Probe.exists(s.repository.imageRecordPath(b.imageID)))
        #expect(third.imageCatalogsDeleted == [b.imageID.hex])
        #expect(third.imageRecordsDeleted == [b.imageID.hex])
        // B's only layer is its own chain; its catalog is older than 60 s at t0+61.
        #expect(third.chainCatalogsDeleted == [b.imageID.hex], "apply uses the ChainID as the image id")
        #expect(!Probe.exists(Probe.objectPath(s.root, "body-gone")))
        #expect(Probe.exists(Probe.objectPath(s.root, "body-shared")))
        #expect(Probe.exists(Probe.objectPath(s.root, "body-kept")))
        #expect(third.objectsDeleted.count == 1)
        // A is untouched and still verifies.
        #expect(Probe.contents(s.root + "/org/a:1/keep") == "body-kept")
        #expect(Probe.contents(s.root + "/org/a:1/shared") == "body-shared")
        #expect(try Verifier(repository: s.repository).run().problems.isEmpty)
        #expect(try s.repository.readState().unreferencedSince.isEmpty)
        _ = a
        let staging = try FileManager.default.contentsOfDirectory(atPath: s.root + "/.imgsync/staging")
        #expect(staging.isEmpty, "\(staging)")
    }

    @Test func dryRunListsButChangesNothing() throws {
        let s = try LayerSandbox()
        let (_, b) = try twoImages(s)
        try s.repository.unpublish(try PublishedName("org/b:1"))
        let t0 = Date()
        _ = try gc(s, grace: 0, at: t0)  // records B as unreferenced
        let before = Probe.listing(s.root)
        let r = try gc(s, grace: 0, at: t0.addingTimeInterval(1), dryRun: true)
        #expect(r.treesDeleted == [b.imageID.hex])
        #expect(r.objectsDeleted == [ObjectStore.relativePath(of: Probe.digest("body-gone"))])
        #expect(r.imageCatalogsDeleted == [b.imageID.hex])
        #expect(Probe.listing(s.root) == before, "a dry run changed the repository")
        // The real run then deletes exactly what the dry run listed.
        let real = try gc(s, grace: 0, at: t0.addingTimeInterval(1))
        #expect(real.treesDeleted == r.treesDeleted)
        #expect(real.objectsDeleted == r.objectsDeleted)
        #expect(real.chainCatalogsDeleted == r.chainCatalogsDeleted)
    }

    @Test func deletionsAreBoundedPerRun() throws {
        let s = try LayerSandbox()
        var layer = TarBuilder()
        for i in 0..<5 { layer.file("f\(i)", "unique-\(i)") }
        let img = try s.apply([layer.build()], name: "org/many:1").published
        try s.repository.unpublish(try PublishedName("org/many:1"))
        let t0 = Date()
        _ = try gc(s, grace: 0, at: t0)
        // tree + image catalog + record + chain catalog + 5 objects = 9 deletions in all.
        let r1 = try gc(s, grace: 0, at: t0.addingTimeInterval(1), max: 3)
        #expect(r1.deletions == 3)
        #expect(r1.limitReached)
        #expect(r1.treesDeleted == [img.imageID.hex])
        let r2 = try gc(s, grace: 0, at: t0.addingTimeInterval(2), max: 3)
        #expect(r2.deletions == 3)
        let r3 = try gc(s, grace: 0, at: t0.addingTimeInterval(3), max: 3)
        #expect(r3.deletions == 3)
        #expect(r3.objectsDeleted.count + r2.objectsDeleted.count == 5)
        let r4 = try gc(s, grace: 0, at: t0.addingTimeInterval(4), max: 3)
        #expect(r4.deletions == 0)
        #expect(!r4.limitReached)
        for i in 0..<5 { #expect(!Probe.exists(Probe.objectPath(s.root, "unique-\(i)"))) }
    }

    @Test func objectsOfAListedChainCatalogAreKept() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.file("lower", "only-in-the-lower-layer"); l1.file("top", "top-body")
        var l2 = TarBuilder(); l2.whiteout(".wh.lower")
        let img = try s.apply([l1.build(), l2.build()], name: "org/chain:1")
        #expect(img.entry("lower") == nil)
        let r = try gc(s, grace: 0, at: Date().addingTimeInterval(3600))
        #expect(r.deletions == 0, "\(r)")
        #expect(Probe.exists(Probe.objectPath(s.root, "only-in-the-lower-layer")), "the chain catalog of L1 lists it")
    }

    @Test func unlistedChainCatalogStaysWithinTheGracePeriodThenGoes() throws {
        let s = try LayerSandbox()
        do {
            // A build that never publishes leaves its chain catalog (a cache for later images).
            let builder = try ImageBuilder(repository: s.repository, linkMode: .hardlink)
            var l = TarBuilder(); l.file("x", "cached-prefix-body")
            try builder.apply(LayerInput(source: BytesSource(l.build()), name: "L1", expect: LayerExpectations(compression: .none)))
        }
        #expect(s.repository.chainCatalogIDs().count == 1)
        let fresh = try gc(s, grace: 3600, at: Date())
        #expect(fresh.deletions == 0)
        #expect(Probe.exists(Probe.objectPath(s.root, "cached-prefix-body")))
        let old = try gc(s, grace: 3600, at: Date().addingTimeInterval(7200))
        #expect(old.chainCatalogsDeleted.count == 1)
        #expect(old.objectsDeleted == [ObjectStore.relativePath(of: Probe.digest("cached-prefix-body"))])
        #expect(!Probe.exists(Probe.objectPath(s.root, "cached-prefix-body")))
    }

    @Test func treeNamedAgainWithinTheGracePeriodIsKept() throws {
        let s = try LayerSandbox()
        let (_, b) = try twoImages(s)
        let name = try PublishedName("org/b:1")
        try s.repository.unpublish(name)
        let t0 = Date()
        let r1 = try gc(s, grace: 60, at: t0)
        #expect(r1.newlyUnreferenced == [b.imageID.hex])
        try s.repository.link(try PublishedName("org/b:again"), to: b.imageID)
        let r2 = try gc(s, grace: 60, at: t0.addingTimeInterval(3600))
        #expect(r2.rereferenced == [b.imageID.hex])
        #expect(r2.deletions == 0)
        #expect(Probe.exists(b.treePath))
        #expect(try s.repository.readState().unreferencedSince.isEmpty)
        // Unpublished again later, the grace period starts over.
        try s.repository.unpublish(try PublishedName("org/b:again"))
        let r3 = try gc(s, grace: 60, at: t0.addingTimeInterval(3700))
        #expect(r3.newlyUnreferenced == [b.imageID.hex])
        #expect(r3.deletions == 0)
    }

    @Test func temporaryFilesOfKilledWritersGoOnceOld() throws {
        let s = try LayerSandbox()
        let old = s.root + "/.imgsync/catalogs/chains/" + String(repeating: "ab", count: 32) + ".tmp-999"
        let fresh = s.root + "/.imgsync/state.json.tmp-998"
        try Data("partial".utf8).write(to: URL(fileURLWithPath: old))
        try Data("partial".utf8).write(to: URL(fileURLWithPath: fresh))
        var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000_000, tv_nsec: 0)]
        utimensat(AT_FDCWD, old, &times, 0)
        let r = try gc(s, grace: 3600, at: Date())
        #expect(r.temporaryFilesDeleted == [".imgsync/catalogs/chains/" + String(repeating: "ab", count: 32) + ".tmp-999"])
        #expect(!Probe.exists(old))
        #expect(Probe.exists(fresh))
    }

    @Test func gracePeriodParsing() throws {
        #expect(try GracePeriod.parse("0s") == 0)
        #expect(try GracePeriod.parse("30m") == 1800)
        #expect(try GracePeriod.parse("2d") == 172_800)
        #expect(try GracePeriod.parse("1.5h") == 5400)
        for bad in ["", "2", "d", "-1d", "2x", "1e999d"] {
            #expect(throws: ImgsyncError.self, "\(bad)") { try GracePeriod.parse(bad) }
        }
        #expect(GracePeriod.format(172_800) == "2d")
        #expect(GracePeriod.format(90) == "90s")
    }
}
