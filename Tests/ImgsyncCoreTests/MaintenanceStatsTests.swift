import Foundation
import Testing
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncTestSupport

/// `stats` figures that ObjectStoreAccountingTests does not cover: what "other users cannot read" means.
@Suite struct MaintenanceStatsTests {
    @Test(arguments: [LinkMode.hardlink, .copy])
    func unreadableByOthersFollowsFileModesAndTraversal(mode: LinkMode) throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.file("public", "p", mode: 0o644)
        t.file("owner-only", "o", mode: 0o600)                   // 1
        t.file("group-only", "g", mode: 0o640)                   // 2
        t.dir("listable-not-enterable/", mode: 0o754)            // 3 (no o+x)
        t.file("listable-not-enterable/f", "f", mode: 0o644)     // 4 (cannot be reached)
        t.dir("enterable-not-listable/", mode: 0o711)            // 5 (no o+r)
        t.file("enterable-not-listable/f", "e", mode: 0o644)     // readable by a known name
        t.dir("open/", mode: 0o755)
        t.dir("open/closed/", mode: 0o700)                       // 6
        t.dir("open/closed/deeper/", mode: 0o755)                // 7
        t.file("open/closed/deeper/f", "d", mode: 0o644)         // 8
        t.symlink("link", target: "owner-only")                  // a symlink itself is always readable
        try s.apply([t.build()], link: mode, name: "org/modes:1")
        #expect(RepositoryStats.compute(s.repository).unreadableByOthers == 8)
    }

    @Test func emptyRepository() throws {
        let s = try LayerSandbox()
        let stats = RepositoryStats.compute(s.repository)
        #expect(stats == RepositoryStats())
    }
}
