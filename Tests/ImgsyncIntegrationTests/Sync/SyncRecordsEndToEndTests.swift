import Foundation
import ImgsyncTestSupport
import Testing

/// `imgsync sync` as the systemd unit runs it: `--metrics-file`, `--events` and `--json` after a run
/// with one good and one failing image, the exit statuses 2 and 3, and standard error without a
/// terminal (no escape codes).
@Suite(.timeLimit(.minutes(5))) struct SyncRecordsEndToEndTests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: [UInt8]
        var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    /// Runs the built `imgsync` with stdout and stderr redirected to files (not a terminal).
    func imgsync(_ arguments: [String], in env: FakeEnvironment) throws -> Run {
        let id = UUID().uuidString.prefix(6)
        let out = env.dir.file("out-\(id)"), err = env.dir.file("err-\(id)")
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: SyncCrashTests.imgsync)
        p.arguments = arguments
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        p.standardInput = FileHandle.nullDevice
        try p.runSerialized()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                   stderr: Array((try? Data(contentsOf: URL(fileURLWithPath: err))) ?? Data()))
    }

    func samples(_ path: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            out[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        return out
    }

    func events(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test func metricsAndEventsOfARunWithOneGoodAndOneFailingImage() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: SyncCrashTests.imgsync), "imgsync is not built at \(SyncCrashTests.imgsync)")
        try await withFakeEnvironment { env in
            let reg = try await SyncEndToEndTests.appRegistry(env)
            try env.dir.write("images.txt", "\(reg.name)/org/app:1\n\(reg.name)/org/missing:1\n")
            let root = env.dir.file("root"), metrics = env.dir.file("imgsync.prom"), log = env.dir.file("events.jsonl")
            let common = ["sync", "--images", env.dir.file("images.txt"), "--root", root, "--ca-file", env.ca.caCert,
                          "--metrics-file", metrics, "--events", log, "--log-level", "info"]
            let r = try imgsync(common + ["--json", env.dir.file("report.json")], in: env)
            #expect(r.status == 1, "one image failed, the other was published: \(r.stdout) \(r.stderrText)")

            let s = try samples(metrics)
            #expect(s[#"imgsync_last_run_images{outcome="added"}"#] == "1", "\(s)")
            #expect(s[#"imgsync_last_run_images{outcome="failed"}"#] == "1")
            #expect(s[#"imgsync_image_failed{name="org/app:1"}"#] == "0")
            #expect(s[#"imgsync_image_failed{name="org/missing:1"}"#] == "1")
            #expect(s["imgsync_last_run_exit_code"] == "1")
            #expect(s["imgsync_last_run_list_issues"] == "0")
            let fetched = try #require(s[#"imgsync_last_run_fetched_bytes{registry="\#(reg.name)"}"#].flatMap { Int($0) }, "\(s)")
            #expect(fetched > 0)
            #expect(Int(s["imgsync_last_run_objects_added"] ?? "") ?? 0 > 0)
            let success = try #require(s["imgsync_last_success_timestamp_seconds"].flatMap(Double.init))
            #expect(abs(success - Date().timeIntervalSince1970) < 300, "exit 1 counts as a success")
            #expect(s["imgsync_last_success_timestamp_seconds"] == s["imgsync_last_run_timestamp_seconds"])
            #expect(!FileManager.default.fileExists(atPath: metrics + ".tmp"))

            let lines = try events(log)
            #expect(lines.map { $0["event"] as? String } == ["run-start", "image", "image", "run-end"], "\(lines)")
            let images = lines.filter { $0["event"] as? String == "image" }
            #expect(images.map { $0["name"] as? String } == ["org/app:1", "org/missing:1"])
            #expect(images.map { $0["outcome"] as? String } == ["added", "failed"])
            #expect((images[1]["error"] as? String)?.contains("org/missing") == true, "\(images[1])")
            #expect(lines[3]["exitCode"] as? Int == 1)
            #expect((lines[3]["counts"] as? [String: Int])?["added"] == 1)
            #expect(Set(lines.compactMap { $0["run"] as? String }).count == 1)

            // Standard error is a file: log lines, and not one escape byte.
            #expect(r.stderrText.contains("fetching layer"), "\(r.stderrText)")
            #expect(!r.stderr.contains(0x1B), "an escape code on a non-terminal stderr")

            // Every listed image fails: nothing published, exit 3 (a failed unit); the last success
            // time stays that of the previous run, and the log grows by one run. (Another root, so
            // that no name leaves the list.)
            try env.dir.write("images.txt", "\(reg.name)/org/missing:1\n\(reg.name)/org/gone:2\n")
            let other = common.map { $0 == root ? env.dir.file("root2") : $0 }
            let r3 = try imgsync(other, in: env)
            #expect(r3.status == 3, "\(r3.stdout) \(r3.stderrText)")
            let s3 = try samples(metrics)
            #expect(s3["imgsync_last_run_exit_code"] == "3")
            #expect(s3["imgsync_last_success_timestamp_seconds"] == s["imgsync_last_success_timestamp_seconds"])
            #expect(s3[#"imgsync_image_failed{name="org/gone:2"}"#] == "1")
            let all = try events(log)
            #expect(all.count == lines.count + 4)
            #expect(all.last?["exitCode"] as? Int == 3)
            #expect(!r3.stderr.contains(0x1B))
        }
    }

    @Test func aMissingReportDirectoryIsABadInvocation() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: SyncCrashTests.imgsync), "imgsync is not built at \(SyncCrashTests.imgsync)")
        try await withFakeEnvironment { env in
            try env.dir.write("images.txt", "127.0.0.1:1/org/app:1\n")
            let root = env.dir.file("root")
            let base = ["sync", "--images", env.dir.file("images.txt"), "--root", root]
            let missing = env.dir.file("no-such-dir")
            let r = try imgsync(base + ["--json", missing + "/report.json"], in: env)
            #expect(r.status == 2)
            #expect(r.stderrText.contains("--json \(missing)/report.json: directory \(missing) does not exist"), "\(r.stderrText)")
            #expect(!FileManager.default.fileExists(atPath: root), "checked before any work")
            let m = try imgsync(base + ["--metrics-file", missing + "/imgsync.prom"], in: env)
            #expect(m.status == 2 && m.stderrText.contains("--metrics-file \(missing)/imgsync.prom: directory \(missing) does not exist"), "\(m.stderrText)")
            let e = try imgsync(base + ["--events", missing + "/events.jsonl"], in: env)
            #expect(e.status == 2 && e.stderrText.contains("--events \(missing)/events.jsonl: directory \(missing) does not exist"), "\(e.stderrText)")
        }
    }
}
