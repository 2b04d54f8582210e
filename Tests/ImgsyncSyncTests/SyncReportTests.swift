import Foundation
import Testing
@testable import ImgsyncSync

/// The sync summary's lines that are not covered by the end-to-end runs.
@Suite struct SyncReportTests {
    func image(_ name: String, unreadable: Int) -> ImageResult {
        var r = ImageResult(name: name, reference: "example.org/\(name)", origin: "images.txt:1", outcome: .added)
        r.unreadableByOthers = unreadable
        return r
    }

    @Test func namesTheImagesWithPathsOtherUsersCannotRead() throws {
        var report = SyncReport(root: "/srv/r", list: "images.txt", started: Date())
        report.images = [image("org/a:1", unreadable: 0), image("org/b:1", unreadable: 3), image("org/c:1", unreadable: 1)]
        let lines = report.text().split(separator: "\n").map(String.init)
        let line = try #require(lines.first { $0.hasPrefix("unreadable by other users:") }, "\(lines)")
        #expect(line.contains("4 paths in org/b:1 (3), org/c:1 (1)"))
        #expect(!line.contains("org/a:1"))
        #expect(line.contains("--world-readable"))
        let json = try #require(try JSONSerialization.jsonObject(with: report.json()) as? [String: Any])
        let images = try #require(json["images"] as? [[String: Any]])
        #expect(images.map { $0["unreadableByOthers"] as? Int } == [0, 3, 1])

        report.images = [image("org/a:1", unreadable: 0)]
        #expect(!report.text().contains("unreadable by other users"))

        // Hundreds of images: the line stays short (issue 9 item 6); the JSON report has them all.
        report.images = (0..<400).map { image("some-organisation/some-image-\($0):1.0.0", unreadable: 2) }
        let long = try #require(report.text().split(separator: "\n").first { $0.hasPrefix("unreadable by other users:") })
        #expect(long.count < 400, "\(long.count) characters")
        #expect(long.contains("800 paths in some-organisation/some-image-0:1.0.0 (2)"))
        #expect(long.contains("and 395 more images"))
    }

    /// Dry runs say what they would do; warnings of the images built reach the summary.
    @Test func dryRunWordingAndWarnings() {
        var report = SyncReport(root: "/srv/r", list: "images.txt", started: Date())
        report.dryRun = true
        report.removed = ["org/gone:1"]
        var warned = image("org/w:1", unreadable: 0)
        warned.warnings = ["no /etc/passwd", "two", "three", "four"]
        report.images = [warned]
        let text = report.text()
        #expect(text.contains("would remove: org/gone:1"))
        #expect(text.contains("1 would be removed"))
        #expect(!text.contains("removed: org/gone:1"))
        #expect(text.contains("warning: org/w:1: no /etc/passwd; two; three (1 more in the JSON report)"))
        report.dryRun = false
        #expect(report.text().contains("\nremoved: org/gone:1") || report.text().hasPrefix("removed: org/gone:1"))
    }
}

/// Exit statuses (docs/operations.md): 0, 1 partial, 3 nothing published.
@Suite struct SyncReportExitCodeTests {
    func report(_ outcomes: [ImageOutcome], issues: [String] = []) -> SyncReport {
        var report = SyncReport(root: "/srv/r", list: "images.txt", started: Date())
        report.images = outcomes.enumerated().map { ImageResult(name: "org/i:\($0.offset)", reference: "r/org/i", origin: "l:1", outcome: $0.element) }
        report.listIssues = issues
        return report
    }

    @Test func statuses() {
        #expect(report([.added, .unchanged]).exitCode == 0)
        #expect(report([]).exitCode == 0, "an empty list has nothing to fail")
        #expect(report([.added, .failed]).exitCode == 1)
        #expect(report([.unchanged], issues: ["l:2: bad"]).exitCode == 1)
        #expect(report([.failed, .failed]).exitCode == 3, "every listed image failed")
        #expect(report([], issues: ["l:1: bad"]).exitCode == 3, "no line of the list was usable")
        #expect(report([.failed], issues: ["l:2: bad"]).exitCode == 3)
        #expect(report([.wouldChange, .failed]).exitCode == 1)
        var hook = report([.added])
        hook.hookErrors = ["after-change exited 1"]
        #expect(hook.exitCode == 1)
    }
}

/// The summary of a run over thousands of images (issue 9 item 6): counts, the first few names of
/// each kind, no line over 1,000 characters; the JSON report keeps everything.
@Suite struct SyncReportScaleTests {
    func image(_ i: Int, _ outcome: ImageOutcome) -> ImageResult {
        var r = ImageResult(name: "org/image-\(i):1", reference: "registry.example.org/org/image-\(i):1", origin: "images.txt:\(i)", outcome: outcome)
        if outcome == .failed { r.error = "manifest unknown: registry.example.org/org/image-\(i):1" }
        return r
    }

    @Test func listsTheFirstFewOfEachKindAndCountsTheRest() throws {
        var report = SyncReport(root: "/srv/r", list: "images.txt", started: Date())
        report.images = (0..<3000).map { image($0, .unchanged) } + (3000..<3040).map { image($0, .failed) }
            + (3040..<3060).map { image($0, .added) }
        report.removed = (0..<700).map { "org/gone-\($0):1" }
        report.listIssues = (0..<25).map { "images.txt:\($0): bad reference" }
        let text = report.text()
        let lines = text.split(separator: "\n").map(String.init)
        #expect(!text.contains("org/image-0:1"), "an unchanged image has no line of its own")
        #expect(!text.contains("org/image-3040:1"), "added images are counted, not listed")
        #expect(lines.filter { $0.hasPrefix("failed: ") }.count == SyncReport.listedLines)
        #expect(lines.contains("... and 30 more failed images (all in the JSON report, --json)"), "\(lines)")
        #expect(lines.filter { $0.hasPrefix("removed: ") }.count == SyncReport.listedLines)
        #expect(lines.contains("... and 690 more removed names (all in the JSON report, --json)"))
        #expect(lines.contains("... and 15 more list problems (all in the JSON report, --json)"))
        #expect(lines.last?.hasPrefix("sync /srv/r: 20 added, 0 updated, 3000 unchanged, 700 removed, 40 failed") == true, "\(lines.last ?? "")")
        #expect(lines.count < 40, "\(lines.count) lines")
        let json = try #require(try JSONSerialization.jsonObject(with: report.json()) as? [String: Any])
        #expect((json["removed"] as? [String])?.count == 700)
        #expect((json["images"] as? [[String: Any]])?.count == 3060)
    }

    @Test func noLineIsLongerThanAThousandCharacters() throws {
        var report = SyncReport(root: "/srv/r", list: "images.txt", started: Date())
        var failed = image(1, .failed)
        failed.error = "registry.example.org answered HTTP 500: " + String(repeating: "x", count: 5000)
        var warned = image(2, .added)
        warned.warnings = [String(repeating: "w", count: 3000)]
        report.images = [failed, warned]
        report.hookErrors = [String(repeating: "h", count: 2000)]
        let lines = report.text().split(separator: "\n")
        #expect(lines.count == 4)
        for line in lines {
            #expect(line.count <= SyncReport.maxLineLength, "\(line.prefix(40))…: \(line.count) characters")
        }
        #expect(lines[0].hasPrefix("failed: org/image-1:1") && lines[0].hasSuffix("[cut; the whole text is in the JSON report]"))
        let json = String(decoding: try report.json(), as: UTF8.self)
        #expect(json.contains(String(repeating: "x", count: 5000)), "the JSON report keeps the whole error")
    }
}
