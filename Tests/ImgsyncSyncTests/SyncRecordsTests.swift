import Foundation
import Testing
@testable import ImgsyncSync

/// `--json`, `--metrics-file` and `--events`: what is written, and exit 3 when a record cannot be.
@Suite struct SyncRecordsTests {
    func withDirectory(_ body: (String) throws -> Void) throws {
        let dir = NSTemporaryDirectory() + "imgsync-records-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try body(dir)
    }

    func report() -> SyncReport {
        var report = SyncReport(root: "/srv/r", list: "images.txt", started: Date())
        var good = ImageResult(name: "org/a:1", reference: "example.org/org/a:1", origin: "images.txt:1", outcome: .added)
        good.bytesFetched = 42
        var bad = ImageResult(name: "org/b:1", reference: "example.org/org/b:1", origin: "images.txt:2", outcome: .failed)
        bad.error = "manifest unknown"
        report.images = [good, bad]
        report.removed = ["org/old:1"]
        report.listIssues = ["images.txt:3: bad line"]
        return report
    }

    func events(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test func writesTheReportMetricsAndOneEventPerLine() throws {
        try withDirectory { dir in
            let records = try SyncRecords(json: dir + "/r.json", metricsFile: dir + "/m.prom", events: dir + "/e.jsonl")
            records.start(root: "/srv/r", list: "images.txt", dryRun: false)
            #expect(records.finish(report: report(), status: 1) == 1)
            #expect(records.problems.isEmpty)
            #expect(FileManager.default.fileExists(atPath: dir + "/r.json"))
            #expect(!FileManager.default.fileExists(atPath: dir + "/m.prom.tmp"))
            let metrics = try String(contentsOfFile: dir + "/m.prom", encoding: .utf8)
            #expect(metrics.contains(#"imgsync_image_failed{name="org/b:1"} 1"#))
            let lines = try events(dir + "/e.jsonl")
            #expect(lines.map { $0["event"] as? String } == ["run-start", "list-issue", "image", "image", "removed", "run-end"])
            #expect(Set(lines.compactMap { $0["run"] as? String }).count == 1, "one run id")
            #expect(lines[3]["outcome"] as? String == "failed" && lines[3]["error"] as? String == "manifest unknown")
            #expect(lines[2]["bytesFetched"] as? Int == 42)
            #expect(lines[5]["exitCode"] as? Int == 1)
            #expect((lines[5]["counts"] as? [String: Int]) == ["added": 1, "updated": 0, "unchanged": 0, "failed": 1,
                                                               "would-change": 0, "removed": 1, "listIssues": 1])
            #expect(lines[0]["name"] == nil, "fields that do not apply are left out")

            // A second run appends to the log and keeps the last success in the metrics.
            let again = try SyncRecords(json: nil, metricsFile: dir + "/m.prom", events: dir + "/e.jsonl")
            again.start(root: "/srv/r", list: "images.txt", dryRun: false)
            #expect(again.finish(report: nil, status: 2, error: "the repository is locked") == 2)
            let all = try events(dir + "/e.jsonl")
            #expect(all.count == 8)
            #expect(all[7]["error"] as? String == "the repository is locked" && all[7]["exitCode"] as? Int == 2)
            let before = try #require(SyncMetrics.lastSuccess(in: metrics))
            let after = try String(contentsOfFile: dir + "/m.prom", encoding: .utf8)
            #expect(SyncMetrics.lastSuccess(in: after) == before, "a run that stopped keeps the last success")
        }
    }

    @Test func aRecordThatCannotBeWrittenMakesTheRunExit3() throws {
        try withDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir + "/gone", withIntermediateDirectories: true)
            let records = try SyncRecords(json: dir + "/gone/r.json", metricsFile: dir + "/m.prom", events: nil)
            try FileManager.default.removeItem(atPath: dir + "/gone")
            #expect(records.finish(report: report(), status: 0) == 3)
            #expect(records.problems.count == 1)
            #expect(records.problems.first?.hasPrefix("--json \(dir)/gone/r.json: the report could not be written") == true, "\(records.problems)")
            let metrics = try String(contentsOfFile: dir + "/m.prom", encoding: .utf8)
            #expect(metrics.contains("imgsync_last_run_exit_code 3"), "the metrics tell the final status")

            // A run that changed nothing keeps its 2.
            let stopped = try SyncRecords(json: nil, metricsFile: dir + "/missing/m.prom", events: nil)
            #expect(stopped.finish(report: nil, status: 2) == 2)
            #expect(stopped.problems.count == 1)
        }
    }

    @Test func namesAMissingDirectory() throws {
        #expect(SyncRecords.directoryProblem(forFile: "/nonexistent-imgsync/x/y.json") == "directory /nonexistent-imgsync/x does not exist")
        #expect(SyncRecords.directoryProblem(forFile: "/etc/hostname/y.json") == "/etc/hostname is not a directory")
        #expect(SyncRecords.directoryProblem(forFile: "report.json") == nil)
        #expect(SyncRecords.directoryProblem(forFile: NSTemporaryDirectory() + "r.json") == nil)
        #expect(throws: (any Error).self) { _ = try SyncRecords(json: nil, metricsFile: nil, events: "/nonexistent-imgsync/e.jsonl") }
    }
}
