import Foundation
import Testing
@testable import ImgsyncCore
import ImgsyncTestSupport

extension LayerHardeningTests {
    /// Found while auditing the resolver: the depth limit counted an entry's own components only, so a
    /// symlink to a deep directory let a short name build directories past it (each symlink adds up to
    /// 2047 levels; a chain of them, one per entry, grows the tree without bound).
    @Test func symlinksCannotLeadPastTheDepthLimit() throws {
        let s = try LayerSandbox()
        var limits = LayerLimits()
        limits.maxPathDepth = 16
        var t = TarBuilder()
        t.symlink("s", target: (1...10).map { "d\($0)" }.joined(separator: "/"))
        t.file("s/x1/x2/x3/x4/x5/x6/x7/f", "deep")  // 9 components, 17 levels on disk
        s.expectFailure(.limit, [t.build()], limits: limits)

        var within = TarBuilder()
        within.symlink("s", target: (1...10).map { "d\($0)" }.joined(separator: "/"))
        within.file("s/x1/x2/x3/x4/x5/f", "ok")  // 16 levels
        let r = try s.apply([within.build()], name: "test/within:1", limits: limits)
        #expect(r.entry("d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/x1/x2/x3/x4/x5/f")?.size == 2)
    }
}
