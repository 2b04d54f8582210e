import Foundation
import Testing
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Issue 8, item 5: trees with names that are not UTF-8, paths longer than PATH_MAX and 3000
/// levels leave nothing behind, whoever removes them (GC, a failed apply, `verify --repair`, the
/// cleaning of staging after a dead process).
@Suite struct MaintenanceHostileNamesTests {
    func staging(_ s: LayerSandbox) -> [String] {
        HostileTree.names(s.root + "/.imgsync/staging").map(\.escapedForDisplay)
    }

    func gc(_ s: LayerSandbox, at now: Date) throws -> GCReport {
        var gc = GarbageCollector(repository: s.repository)
        gc.grace = 0
        gc.now = { now }
        return try gc.run()
    }

    @Test func gcRemovesTheTreeCompletely() throws {
        let s = try LayerSandbox(on: ScratchFilesystem.tmpfsOrNil())
        let hostile = try s.apply([HostileTree.layer()], name: "org/hostile:1")
        var plain = TarBuilder()
        plain.file("keep", "body-kept")
        try s.apply([plain.build()], name: "org/plain:1")
        try s.repository.unpublish(try PublishedName("org/hostile:1"))
        let t0 = Date()
        _ = try gc(s, at: t0)
        let r = try gc(s, at: t0.addingTimeInterval(1))
        #expect(r.failures.isEmpty, "\(r.failures)")
        #expect(r.treesDeleted == [hostile.published.imageID.hex])
        #expect(!Probe.exists(hostile.published.treePath))
        #expect(staging(s).isEmpty, "\(staging(s))")
        #expect(!Probe.exists(Probe.objectPath(s.root, "at the bottom")))
        // Run again: nothing left over to report.
        let again = try gc(s, at: t0.addingTimeInterval(2))
        #expect(again.failures.isEmpty, "\(again.failures)")
        #expect(try Verifier(repository: s.repository).run().problems.isEmpty)
        s.checkSentinel()
    }

    @Test func aFailedApplyLeavesNoStaging() throws {
        let s = try LayerSandbox(on: ScratchFilesystem.tmpfsOrNil())
        // Everything applies, then the last entry escapes the root: the build is abandoned.
        var escape = TarBuilder()
        escape.file("../escape", "x")
        s.expectFailure(.traversal, [HostileTree.layer(), escape.build()])
        #expect(staging(s).isEmpty, "\(staging(s))")
    }

    @Test func repairRebuildsTheTreeAndRemovesTheOldOne() throws {
        let s = try LayerSandbox(on: ScratchFilesystem.tmpfsOrNil())
        let img = try s.apply([HostileTree.layer()], name: "org/hostile:1")
        // Damage: a file the catalog does not list.
        try Data("stray".utf8).write(to: URL(fileURLWithPath: img.tree + "/added"))
        var v = Verifier(repository: s.repository)
        v.repair = true
        let r = try v.run()
        #expect(r.treesRebuilt == [img.published.imageID.hex], "\(r.problems)")
        #expect(r.remaining.isEmpty, "\(r.remaining)")
        #expect(staging(s).isEmpty, "\(staging(s))")
        #expect(!Probe.exists(img.tree + "/added"))
        #expect(try Verifier(repository: s.repository).run().problems.isEmpty)
    }

    @Test func repairRemovesStrayObjectsWhateverTheirNames() throws {
        let s = try LayerSandbox(on: ScratchFilesystem.tmpfsOrNil())
        try s.apply([HostileTree.layer()], name: "org/hostile:1")
        let objects = try OwnedDescriptor.directory(atPath: s.root + "/.objects")
        // A stray file with a Latin-1 name in a shard, and a stray directory holding a deep tree.
        let someShard = try #require(HostileTree.names(s.root + "/.objects").first { $0.count == 2 })
        let shardFd = try OwnedDescriptor.directory(at: objects.rawValue, someShard)
        let strayName: PathBytes = HostileTree.latin1 + Array(".tmp".utf8)
        let fd = strayName.withCString { openat(shardFd.rawValue, $0, O_WRONLY | O_CREAT | O_EXCL, 0o644) }
        #expect(fd >= 0)
        close(fd)
        try Syscall.mkdir(at: objects.rawValue, HostileTree.badDirectory, mode: 0o755)
        let strayDir = try OwnedDescriptor.directory(at: objects.rawValue, HostileTree.badDirectory)
        try HostileTree.make(in: strayDir.rawValue, depth: 3000)

        var v = Verifier(repository: s.repository)
        v.repair = true
        let r = try v.run()
        let strays = r.problems.filter { $0.kind == .strayFile }
        #expect(strays.count == 2, "\(r.problems)")
        #expect(strays.allSatisfy { $0.repaired }, "\(strays)")
        #expect(!HostileTree.names(s.root + "/.objects/" + String(decoding: someShard, as: UTF8.self)).contains(strayName))
        #expect(!HostileTree.names(s.root + "/.objects").contains(HostileTree.badDirectory))
        #expect(try Verifier(repository: s.repository).run().problems.isEmpty)
    }

    @Test func takingTheLockRemovesWhatADeadProcessLeftInStaging() throws {
        let s = try LayerSandbox(on: ScratchFilesystem.tmpfsOrNil())
        let staging = try OwnedDescriptor.directory(atPath: s.root + "/.imgsync/staging")
        for name in ["build-1-1-dead", "gc-" + String(repeating: "ab", count: 32)] {
            try Syscall.mkdir(at: staging.rawValue, Array(name.utf8), mode: 0o700)
            let d = try OwnedDescriptor.directory(at: staging.rawValue, Array(name.utf8))
            try HostileTree.make(in: d.rawValue, depth: 3000)
            fchmod(d.rawValue, 0o500)
        }
        #expect(s.repository.cleanStaging().isEmpty)
        #expect(self.staging(s).isEmpty, "\(self.staging(s))")
    }
}
