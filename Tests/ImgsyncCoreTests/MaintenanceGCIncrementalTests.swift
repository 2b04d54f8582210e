import Foundation
import Testing
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The incremental GC (docs/design.md §3.7): it deletes exactly what the full mark-and-sweep would,
/// does no work in proportion to the store when nothing was released, and hands over to the full
/// pass whenever its index cannot be trusted.
@Suite struct MaintenanceGCIncrementalTests {
    func gc(_ s: LayerSandbox, grace: TimeInterval = 0, at now: Date = Date(), full: Bool = false, dryRun: Bool = false) throws -> GCReport {
        try s.collectGarbage(grace: grace, at: now, full: full, dryRun: dryRun)
    }

    func layer(_ files: [(String, String)], mode: Int64 = 0o644) -> [UInt8] {
        var t = TarBuilder()
        for (name, body) in files { t.file(name, body, mode: mode) }
        return t.build()
    }

    /// Every body a catalog on disk lists has its object: nothing live was deleted.
    func expectNoLiveBodyMissing(_ s: LayerSandbox, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for key in s.repository.catalogStamps().keys {
            guard let (_, bodies) = try s.repository.catalogBodies(key) else { continue }
            for d in bodies where d != Digest.empty {
                #expect(Probe.exists(s.root + "/" + ObjectStore.relativePath(of: d)),
                        "\(context): \(s.repository.catalogPath(key)) lists \(d), which is gone", sourceLocation: sourceLocation)
            }
        }
    }

    @Test func anUnchangedRepositoryExaminesNoObjectAndReadsNoCatalog() throws {
        let s = try LayerSandbox()
        _ = try s.apply([layer([("a", "body-a"), ("s", "body-shared")])], name: "org/a:1")
        _ = try s.apply([layer([("b", "body-b"), ("s", "body-shared")])], name: "org/b:1")
        let first = try gc(s)
        #expect(first.fullReason == "no GC index yet")
        #expect(first.objectsExamined == 3)
        #expect(Probe.exists(s.repository.gcIndexPath))

        let second = try gc(s)
        #expect(second.fullReason == nil)
        #expect(second.objectsExamined == 0)
        #expect(second.catalogsRead == 0)
        #expect(second.deletions == 0)
        #expect(s.repository.checkGCIndex() == .consistent(catalogs: 4, bodies: 3, released: 0))
    }

    @Test func releasingAnImageReadsOnlyItsCatalogsAndDeletesItsOwnBodies() throws {
        let s = try LayerSandbox()
        _ = try s.apply([layer([("a", "body-a"), ("s", "body-shared")])], name: "org/a:1")
        _ = try s.apply([layer([("b", "body-b"), ("s", "body-shared")])], name: "org/b:1")
        _ = try gc(s)
        try s.repository.unpublish(try PublishedName("org/b:1"))
        let t0 = Date()
        let recorded = try gc(s, at: t0)
        #expect(recorded.newlyUnreferenced.count == 1)
        #expect(recorded.objectsExamined == 0)
        let r = try gc(s, at: t0.addingTimeInterval(1))
        #expect(r.fullReason == nil)
        #expect(r.treesDeleted.count == 1)
        #expect(r.catalogsRead == 2, "the image catalog and the chain catalog released, nothing else")
        #expect(r.objectsDeleted == [ObjectStore.relativePath(of: Probe.digest("body-b"))])
        #expect(Probe.exists(Probe.objectPath(s.root, "body-shared")))
        #expect(Probe.exists(Probe.objectPath(s.root, "body-a")))
        #expect(s.repository.checkGCIndex() == .consistent(catalogs: 2, bodies: 2, released: 0))
    }

    /// Random publish / re-point / unpublish sequences (hardlink variants included): after every
    /// incremental run, a full dry run finds nothing more to delete, no body a catalog lists is
    /// missing, and the index agrees with a recount.
    @Test(arguments: [UInt64(1), 2, 3, 4])
    func incrementalDeletesExactlyWhatTheFullPassWould(seed: UInt64) throws {
        let s = try LayerSandbox()
        var rng = ImgsyncTestSupport.SplitMix64(seed: seed)
        func pick(_ n: Int) -> Int { Int.random(in: 0..<n, using: &rng) }
        let bases = (0..<3).map { b in layer((0..<3).map { ("base\($0)", "base-\(b)-\($0)") }) }
        let start = Date()
        var published: Set<String> = []
        for step in 1...24 {
            if !published.isEmpty && pick(10) < 3 {
                let name = published.sorted()[pick(published.count)]
                try s.repository.unpublish(try PublishedName(name))
                published.remove(name)
            } else {
                let files = (0..<(1 + pick(4))).map { ("f\($0)", "body-\(pick(12))") }
                var layers = [layer(files, mode: pick(3) == 0 ? 0o755 : 0o644)]
                if pick(2) == 0 { layers.insert(bases[pick(bases.count)], at: 0) }
                let name = "org/n\(pick(4)):1"
                _ = try s.apply(layers, name: name)
                published.insert(name)
            }
            let now = start.addingTimeInterval(Double(step) * 10)
            let full = step % 7 == 0
            let r = try gc(s, grace: 5, at: now, full: full)
            #expect(r.failures.isEmpty, "seed \(seed) step \(step): \(r.failures)")
            #expect((r.fullReason != nil) == (full || step == 1), "seed \(seed) step \(step): \(r.fullReason ?? "incremental")")
            try expectNoLiveBodyMissing(s, "seed \(seed) step \(step)")
            let check = try gc(s, grace: 5, at: now, full: true, dryRun: true)
            #expect(check.objectsDeleted.isEmpty, "seed \(seed) step \(step): the full pass would still delete \(check.objectsDeleted)")
            #expect(check.treesDeleted.isEmpty && check.imageCatalogsDeleted.isEmpty && check.chainCatalogsDeleted.isEmpty,
                    "seed \(seed) step \(step)")
            guard case .consistent(_, _, let released) = s.repository.checkGCIndex() else {
                Issue.record("seed \(seed) step \(step): \(s.repository.checkGCIndex())")
                continue
            }
            #expect(released == 0)
        }
        #expect(try Verifier(repository: s.repository).run().problems.isEmpty)
    }

    @Test func aCatalogRewrittenOutsideGCMakesTheRunFull() throws {
        let s = try LayerSandbox()
        let a = try s.apply([layer([("a", "body-a")])], name: "org/a:1").published
        _ = try gc(s)
        let path = s.repository.imageCatalogPath(a.imageID)
        let bytes = try #require(FileManager.default.contents(atPath: path))
        try s.repository.writeAtomically(path, Array(bytes), what: "test")
        let r = try gc(s)
        #expect(r.fullReason?.contains("was rewritten outside GC") == true, "\(r.fullReason ?? "incremental")")
        #expect(try gc(s).fullReason == nil, "the full pass wrote a new index")
    }

    @Test func aDeletedCatalogOrADamagedIndexMakesTheRunFull() throws {
        let s = try LayerSandbox()
        _ = try s.apply([layer([("a", "body-a")])], name: "org/a:1")
        let b = try s.apply([layer([("b", "body-b")])], name: "org/b:1").published
        _ = try gc(s)
        try s.repository.unpublish(try PublishedName("org/b:1"))
        // Someone removes b's chain catalog by hand: the index counts bodies of a file that is gone.
        #expect(unlink(s.repository.chainCatalogPath(b.imageID)) == 0)
        let r = try gc(s)
        #expect(r.fullReason?.contains("was deleted outside GC") == true, "\(r.fullReason ?? "incremental")")
        try expectNoLiveBodyMissing(s, "after the fallback")

        #expect(truncate(s.repository.gcIndexPath, 30) == 0)
        let damaged = try gc(s)
        #expect(damaged.fullReason?.contains("damaged GC index") == true, "\(damaged.fullReason ?? "incremental")")
        #expect(s.repository.checkGCIndex() != .absent)
    }

    /// A build killed midway leaves bodies no catalog lists; the staging it leaves behind makes the
    /// next GC the full pass, which deletes them.
    @Test func leftoversOfADeadProcessMakeTheNextRunFull() throws {
        let s = try LayerSandbox()
        _ = try s.apply([layer([("a", "body-a")])], name: "org/a:1")
        _ = try gc(s)
        let orphan = SHA256Hasher.hash(Array("orphan".utf8))
        let orphanPath = s.root + "/" + ObjectStore.relativePath(of: orphan)
        try FileManager.default.createDirectory(atPath: (orphanPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data("orphan".utf8).write(to: URL(fileURLWithPath: orphanPath))
        #expect(try gc(s).objectsDeleted.isEmpty, "the incremental pass does not see bodies no catalog ever listed")
        #expect(try Verifier(repository: s.repository).run().unlistedBodies == 1, "verify reports what gc --full would delete")
        try FileManager.default.createDirectory(atPath: s.root + "/.imgsync/staging/build-dead", withIntermediateDirectories: true)
        s.repository.cleanStaging()
        #expect(!Probe.exists(s.repository.gcIndexPath))
        let r = try gc(s)
        #expect(r.fullReason == "no GC index yet")
        #expect(r.objectsDeleted == [ObjectStore.relativePath(of: orphan)])
        #expect(try Verifier(repository: s.repository).run().unlistedBodies == 0)
    }

    @Test func verifyReportsAnIndexThatMiscountsAndRepairRemovesIt() throws {
        let s = try LayerSandbox()
        _ = try s.apply([layer([("a", "body-a"), ("s", "body-shared")])], name: "org/a:1")
        _ = try gc(s)
        var index = try #require(try s.repository.readGCIndex(catalogsOnly: false))
        index.counts[Probe.digest("body-a")] = 0
        index.released = 1
        try s.repository.writeGCIndex(index)
        let report = try Verifier(repository: s.repository).run()
        #expect(report.problems.map(\.kind) == [.gcIndex], "\(report.problems)")
        var repair = Verifier(repository: s.repository)
        repair.repair = true
        #expect(try repair.run().remaining.isEmpty)
        #expect(!Probe.exists(s.repository.gcIndexPath))
        #expect(try Verifier(repository: s.repository).run().gcIndex.hasPrefix("absent"))
    }

    @Test func theIndexRoundTripsAndRejectsDamage() throws {
        var index = GCIndex()
        index.catalogs[GCIndex.Key(chain: true, id: Probe.digest("c"))] = GCIndex.Stamp(inode: 7, size: 100, sec: -5, nsec: 999_999_999)
        index.catalogs[GCIndex.Key(chain: false, id: Probe.digest("i"))] = GCIndex.Stamp(inode: 8, size: 1, sec: 1_700_000_000, nsec: 0)
        index.counts = [Probe.digest("x"): 2, Probe.digest("y"): 0, Probe.digest("z"): UInt32.max]
        index.released = 1
        let bytes = index.encode()
        #expect(try GCIndex.decode(bytes, fileSize: bytes.count, catalogsOnly: false) == index)
        var catalogsOnly = index
        catalogsOnly.counts = [:]
        #expect(try GCIndex.decode(Array(bytes.prefix(24 + 2 * 61)), fileSize: bytes.count, catalogsOnly: true) == catalogsOnly)
        #expect(throws: ImgsyncError.self) { try GCIndex.decode(Array(bytes.dropLast()), fileSize: bytes.count - 1, catalogsOnly: false) }
        var twice = bytes
        twice.replaceSubrange((bytes.count - 72)..<(bytes.count - 36), with: bytes[(bytes.count - 36)...])
        #expect(throws: ImgsyncError.self) { try GCIndex.decode(twice, fileSize: twice.count, catalogsOnly: false) }
        var miscounted = bytes
        miscounted[12] = 2
        #expect(throws: ImgsyncError.self) { try GCIndex.decode(miscounted, fileSize: miscounted.count, catalogsOnly: false) }
    }
}
