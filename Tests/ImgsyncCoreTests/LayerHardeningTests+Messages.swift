import Foundation
import Testing
@testable import ImgsyncCore
import ImgsyncTestSupport

/// Error lines are bounded whatever the layer holds (issue 8, item 6).
extension LayerHardeningTests {
    /// A 9,000-deep path is over the depth limit; its error once was an 18 kB line.
    @Test func deepPathErrorLineIsBounded() throws {
        let s = try LayerSandbox()
        let deep = String(repeating: "d/", count: 9000) + "leaf-at-the-end"
        var t = TarBuilder()
        t.file(deep, "x")
        do {
            try s.apply([t.build()])
            Issue.record("applied")
        } catch let e as ImgsyncError {
            #expect(e.code == .limit)
            let line = e.description
            #expect(line.utf8.count < 1200, "\(line.utf8.count) bytes")
            #expect(line.hasPrefix("layer L1, entry \"d/d/d/"))
            #expect(line.contains("d/…/d/") && line.contains("leaf-at-the-end\": path depth 9001 exceeds the limit"))
            #expect(line.hasSuffix("[limit]"))
            #expect(e.entry?.utf8.count == deep.utf8.count, "the error keeps the whole name; only its line is shortened")
        }
    }

    @Test func boundedKeepsBothEndsOnScalarBoundaries() {
        #expect(ImgsyncError.bounded("short") == "short")
        let exact = String(repeating: "x", count: ImgsyncError.fieldLimit)
        #expect(ImgsyncError.bounded(exact) == exact)
        let long = "HEAD" + String(repeating: "é", count: 1000) + "TAIL"
        let shown = ImgsyncError.bounded(long)
        #expect(shown.hasPrefix("HEAD") && shown.hasSuffix("TAIL") && shown.contains("…"))
        #expect(shown.utf8.count <= 2 * ImgsyncError.keptBytes + 3)
        #expect(!shown.unicodeScalars.contains("\u{FFFD}"))
        let e = ImgsyncError(.tarFormat, String(repeating: "m", count: 5000), layer: String(repeating: "l", count: 5000),
                             entry: String(repeating: "e", count: 5000))
        #expect(e.description.utf8.count < 3 * ImgsyncError.fieldLimit)
    }

    @Test func warningsAreBoundedToo() throws {
        let s = try LayerSandbox()
        let deep = String(repeating: "w/", count: 600) + "f"
        var t = TarBuilder()
        t.file(deep, "x", mtime: Int64.max)
        let r = try s.apply([t.build()])
        let warning = try #require(r.warnings.first { $0.contains("recorded and applied as") })
        #expect(warning.utf8.count <= 2 * ImgsyncError.keptBytes + 3)
    }
}
