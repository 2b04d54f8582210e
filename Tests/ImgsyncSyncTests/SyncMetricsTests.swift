import Foundation
import Testing
import ImgsyncRegistry
@testable import ImgsyncSync

/// The `--metrics-file` text: node_exporter's textfile format, label escaping, counts by outcome,
/// bytes per registry, and the last success time carried over from the previous file.
@Suite struct SyncMetricsTests {
    func image(_ name: String, _ outcome: ImageOutcome, registry: String = "registry.example.org", fetched: Int64 = 0) -> ImageResult {
        var r = ImageResult(name: name, reference: "\(registry)/\(name)", origin: "images.txt:1", outcome: outcome)
        r.bytesFetched = fetched
        return r
    }

    func report() -> SyncReport {
        var report = SyncReport(root: "/srv/r", list: "images.txt", started: Date(timeIntervalSince1970: 1_700_000_000))
        report.images = [image("org/a:1", .added, fetched: 1000), image("org/b:1", .added, registry: "ghcr.io", fetched: 20),
                         image("org/c:1", .unchanged), image("org/d:1", .failed), image("org/e:1", .updated, fetched: 5)]
        report.listIssues = ["images.txt:9: bad reference"]
        report.removed = ["org/old:1"]
        report.seconds = 12.5
        return report
    }

    /// `name{labels} value` lines, by series.
    func samples(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            out[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        return out
    }

    @Test func countsOutcomesBytesPerRegistryAndFailures() throws {
        let finished = Date(timeIntervalSince1970: 1_700_000_100)
        let text = SyncMetrics(report: report(), exitCode: 1, finished: finished).text(previous: nil)
        let s = samples(text)
        #expect(s[#"imgsync_last_run_images{outcome="added"}"#] == "2")
        #expect(s[#"imgsync_last_run_images{outcome="updated"}"#] == "1")
        #expect(s[#"imgsync_last_run_images{outcome="unchanged"}"#] == "1")
        #expect(s[#"imgsync_last_run_images{outcome="failed"}"#] == "1")
        #expect(s[#"imgsync_last_run_images{outcome="would-change"}"#] == "0", "every outcome has a series")
        #expect(s[#"imgsync_last_run_fetched_bytes{registry="registry.example.org"}"#] == "1005")
        #expect(s[#"imgsync_last_run_fetched_bytes{registry="ghcr.io"}"#] == "20")
        #expect(s[#"imgsync_image_failed{name="org/d:1"}"#] == "1")
        #expect(s[#"imgsync_image_failed{name="org/a:1"}"#] == "0")
        #expect(s["imgsync_last_run_list_issues"] == "1")
        #expect(s["imgsync_last_run_removed"] == "1")
        #expect(s["imgsync_last_run_duration_seconds"] == "12.500")
        #expect(s["imgsync_last_run_exit_code"] == "1")
        #expect(s["imgsync_last_run_timestamp_seconds"] == "1700000100")
        #expect(s["imgsync_last_success_timestamp_seconds"] == "1700000100", "exit 1 published the rest: a success")
        // Every family has HELP and TYPE lines before its samples.
        let lines = text.split(separator: "\n").map(String.init)
        for (i, line) in lines.enumerated() where !line.hasPrefix("#") {
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            let header = lines[..<i].last { $0.hasPrefix("# TYPE ") }
            #expect(header == "# TYPE \(name) gauge", "\(line)")
        }
        #expect(text.hasSuffix("\n"))
    }

    @Test func keepsTheLastSuccessOfThePreviousFileWhenARunFails() throws {
        let first = SyncMetrics(report: report(), exitCode: 0, finished: Date(timeIntervalSince1970: 1_700_000_000)).text(previous: nil)
        var failing = report()
        failing.images = failing.images.map { var r = $0; r.outcome = .failed; return r }
        let second = SyncMetrics(report: failing, exitCode: 3, finished: Date(timeIntervalSince1970: 1_700_003_600)).text(previous: first)
        #expect(samples(second)["imgsync_last_success_timestamp_seconds"] == "1700000000")
        #expect(samples(second)["imgsync_last_run_timestamp_seconds"] == "1700003600")
        // A run stopped before any image (exit 2): run-level series only, success time kept.
        let stopped = SyncMetrics(report: nil, exitCode: 2, finished: Date(timeIntervalSince1970: 1_700_007_200)).text(previous: second)
        #expect(samples(stopped)["imgsync_last_success_timestamp_seconds"] == "1700000000")
        #expect(samples(stopped)["imgsync_last_run_exit_code"] == "2")
        #expect(!stopped.contains("imgsync_image_failed{"))
        // No previous file and no success yet: 0, so that an "older than an hour" alert fires.
        #expect(samples(SyncMetrics(report: nil, exitCode: 2, finished: Date()).text(previous: nil))["imgsync_last_success_timestamp_seconds"] == "0")
        // A dry run publishes nothing: not a success either.
        var dry = report()
        dry.dryRun = true
        let dryText = SyncMetrics(report: dry, exitCode: 0, finished: Date(timeIntervalSince1970: 1_800_000_000)).text(previous: first)
        #expect(samples(dryText)["imgsync_last_success_timestamp_seconds"] == "1700000000")
        #expect(samples(dryText)["imgsync_last_run_dry_run"] == "1")
    }

    @Test func escapesLabelValues() throws {
        #expect(SyncMetrics.escapeLabelValue(#"a"b\c"# + "\nd") == #"a\"b\\c\nd"#)
        #expect(SyncMetrics.escapeLabelValue("org/app:1.0 ü") == "org/app:1.0 ü")
        var r = SyncReport(root: "/r", list: "l", started: Date())
        r.images = [image(#"we"ird\name:1"#, .failed)]
        let text = SyncMetrics(report: r, exitCode: 3, finished: Date()).text(previous: nil)
        #expect(text.contains(#"imgsync_image_failed{name="we\"ird\\name:1"} 1"#), "\(text)")
        #expect(SyncMetrics.escapeHelp("a\\b\nc") == #"a\\b\nc"#)
    }
}

/// The per-registry request and byte gauges (issue 9 item 5).
@Suite struct SyncMetricsRegistryTrafficTests {
    @Test func requestsAndBytesPerRegistry() {
        var report = SyncReport(root: "/srv/r", list: "images.txt", started: Date())
        report.registries = ["ghcr.io": RegistryTraffic(requests: ["HEAD manifest": 3, "GET blob": 2], bytes: 1234),
                             "docker.io": RegistryTraffic(requests: ["GET token": 1], bytes: 0)]
        let text = SyncMetrics(report: report, exitCode: 0, finished: Date()).text(previous: nil)
        let lines = Set(text.split(separator: "\n").map(String.init))
        #expect(lines.contains(#"imgsync_last_run_registry_requests{registry="ghcr.io",request="HEAD manifest"} 3"#), "\(text)")
        #expect(lines.contains(#"imgsync_last_run_registry_requests{registry="ghcr.io",request="GET blob"} 2"#))
        #expect(lines.contains(#"imgsync_last_run_registry_requests{registry="docker.io",request="GET token"} 1"#))
        #expect(lines.contains(#"imgsync_last_run_registry_bytes{registry="ghcr.io"} 1234"#))
        #expect(lines.contains(#"imgsync_last_run_registry_bytes{registry="docker.io"} 0"#))
        #expect(lines.contains(#"imgsync_last_run_registry_stopped{registry="docker.io"} 0"#))
    }

    /// A registry the run stopped asking: a gauge at 1 and one summary line saying why and what it
    /// cost (politeness, issue 9 item 5).
    @Test func stoppedRegistry() {
        var report = SyncReport(root: "/srv/r", list: "images.txt", started: Date())
        var hub = RegistryTraffic(requests: ["HEAD manifest": 100], bytes: 0)
        hub.stopped = "request budget of 100 spent"
        hub.refused = 8
        hub.imagesNotSynced = 7
        var one = RegistryTraffic(requests: ["HEAD manifest": 1])
        one.stopped = "the registry answered ratelimit-remaining: 0;w=21600 (to HEAD docker.io/library/x:1)"
        one.refused = 1
        one.imagesNotSynced = 1
        report.registries = ["docker.io": hub, "ghcr.io": RegistryTraffic(requests: ["GET blob": 2]), "quay.io": one]
        let text = SyncMetrics(report: report, exitCode: 1, finished: Date()).text(previous: nil)
        let lines = Set(text.split(separator: "\n").map(String.init))
        #expect(lines.contains(#"imgsync_last_run_registry_stopped{registry="docker.io"} 1"#), "\(text)")
        #expect(lines.contains(#"imgsync_last_run_registry_stopped{registry="ghcr.io"} 0"#))
        let summary = report.text()
        #expect(summary.contains("registry docker.io: request budget of 100 spent; 7 images not synced (they keep their published trees), 8 requests not sent; the next run asks again\n"), "\(summary)")
        #expect(summary.contains("registry quay.io: the registry answered ratelimit-remaining: 0;w=21600 (to HEAD docker.io/library/x:1); 1 image not synced (it keeps its published tree), 1 request not sent"), "\(summary)")
        #expect(!summary.contains("registry ghcr.io"))
        // JSON keeps it per registry; a report without the fields still decodes.
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let back = try? decoder.decode(SyncReport.self, from: report.json())
        #expect(back?.registries?["docker.io"]?.stopped == "request budget of 100 spent")
        #expect(back?.registries?["docker.io"]?.imagesNotSynced == 7)
        #expect(back?.registries?["ghcr.io"]?.stopped == nil)
        let old = try? JSONDecoder().decode(RegistryTraffic.self, from: Data(#"{"requests":{"GET blob":2},"bytes":5}"#.utf8))
        #expect(old == RegistryTraffic(requests: ["GET blob": 2], bytes: 5))
    }
}
