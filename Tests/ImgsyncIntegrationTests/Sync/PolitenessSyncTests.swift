import Foundation
import ImgsyncCore
import ImgsyncRepository
import ImgsyncRegistry
import Testing
@testable import ImgsyncSync

/// Politeness to registries in whole sync runs against a real registry (issue 9 item 5): one token
/// per scope per run, and a request budget that runs out midway.
@Suite(.timeLimit(.minutes(5))) struct PolitenessSyncTests {
    let e2e = SyncEndToEndTests()

    func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    /// Single-layer images whose file `v` says which they are: tags `a1`, `b1`, `c1` (first
    /// versions) and `a2`, `b2`, `c2` (second).
    static let versionedImages = "[" + ["a1", "b1", "c1", "a2", "b2", "c2"].map { tag in
        #"{"tag":"\#(tag)","manifests":[{"config":{"Env":["V=\#(tag)"]},"layers":[{"files":{"v":"\#(tag)"},"compression":"gzip"}]}]}"#
    }.joined(separator: ",") + "]"

    /// Three images of one repository behind a registry with token auth: the sync fetches one
    /// token for `repository:org/app:pull` in the run (HEADs, manifests, configs and blobs of every
    /// image share it), and the next run (a new client) one more.
    @Test func oneTokenPerScopePerRun() async throws {
        try await withFakeEnvironment { env in
            let open = try await env.registry()
            let (layout, _) = try await env.layout(Self.versionedImages)
            for (tag, version) in [("1", "a1"), ("2", "b1"), ("3", "c1")] {
                try await env.push(layout, tag: version, to: "\(open.name)/org/app:\(tag)")
            }
            let token = try await env.tokenServer()
            let secured = try await env.registry(storage: open.storage, readOnly: true, token: token)
            let targets = try ["1", "2", "3"].map { try e2e.target(secured, "org/app:\($0)") }
            let root = env.dir.file("root")

            let first = try await e2e.sync(env, root: root, targets)
            #expect(first.count(.added) == 3, "\(first.text())")
            #expect(token.requests().count == 1)
            #expect(token.requests().first?.path.contains("scope=repository%3Aorg%2Fapp%3Apull") == true, "\(token.requests().first?.path ?? "")")
            #expect(first.registries?[secured.name]?.count("GET token") == 1)
            #expect(first.registries?[secured.name]?.count("GET blob") == 6)  // a config and a layer per image

            let second = try await e2e.sync(env, root: root, targets)
            #expect(second.count(.unchanged) == 3, "\(second.text())")
            #expect(token.requests().count == 2)
            #expect(second.registries?[secured.name]?.requests == ["GET ping": 1, "GET token": 1, "HEAD manifest": 3])
        }
    }

    /// `imgsync sync --request-budget 7 --jobs 1` when all three listed images changed: the ping
    /// and three HEADs (4) and the first image's manifest, config and layer (3) spend the budget. The
    /// first image is updated; the other two fail `budget-spent` without another request and keep
    /// their published trees; the summary says so in one line; the JSON report records it for the
    /// registry; the status is 1 (partial failure). The next run without a budget updates them.
    @Test func requestBudgetRunsOutMidway() async throws {
        try await withFakeEnvironment { env in
            let reg = try await env.registry(accessLog: true)
            let (layout, _) = try await env.layout(Self.versionedImages)
            for name in ["a", "b", "c"] { try await env.push(layout, tag: "\(name)1", to: "\(reg.name)/org/\(name):1") }
            try env.dir.write("images.txt", ["a", "b", "c"].map { "\(reg.name)/org/\($0):1\n" }.joined())
            let root = env.dir.file("root")
            let report = env.dir.file("report.json")
            func sync(_ extra: [String]) async throws -> (status: Int32, output: String, report: SyncReport) {
                let run = try await imgsync(env, ["sync", "--images", env.dir.file("images.txt"), "--root", root, "--jobs", "1",
                                                  "--ca-file", env.ca.caCert, "--log-level", "error", "--json", report] + extra)
                let decoder = JSONDecoder()
                decoder.dateDecodingStrategy = .iso8601
                let parsed = try decoder.decode(SyncReport.self, from: Data(contentsOf: URL(fileURLWithPath: report)))
                return (run.status, run.output, parsed)
            }

            let first = try await sync([])
            #expect(first.status == 0, "\(first.output)")
            // What one image costs: 1 ping + 3 HEAD + 3 × (GET manifest, GET config, GET layer).
            #expect(first.report.registries?[reg.name]?.total == 13, "\(String(describing: first.report.registries))")
            for name in ["a", "b", "c"] { #expect(read(root + "/org/\(name):1/v") == "\(name)1") }
            let treeB = try #require(try Repository(root: root).imageID(of: PublishedName("org/b:1")))

            for name in ["a", "b", "c"] { try await env.push(layout, tag: "\(name)2", to: "\(reg.name)/org/\(name):1") }
            let before = reg.requests().count
            let limited = try await sync(["--request-budget", "7"])
            #expect(limited.status == 1, "\(limited.output)")
            #expect(reg.requests().count - before == 7, "\(reg.requests().suffix(10))")
            #expect(read(root + "/org/a:1/v") == "a2")
            #expect(read(root + "/org/b:1/v") == "b1")
            #expect(read(root + "/org/c:1/v") == "c1")
            #expect(try Repository(root: root).imageID(of: PublishedName("org/b:1")) == treeB)
            let outcomes = Dictionary(uniqueKeysWithValues: limited.report.images.map { ($0.name, $0) })
            #expect(outcomes["org/a:1"]?.outcome == .updated)
            for name in ["org/b:1", "org/c:1"] {
                #expect(outcomes[name]?.outcome == .failed)
                #expect(outcomes[name]?.errorCode == "budget-spent", "\(outcomes[name]?.error ?? "")")
            }
            let traffic = try #require(limited.report.registries?[reg.name])
            #expect(traffic.total == 7)
            #expect(traffic.stopped == "request budget of 7 spent")
            #expect(traffic.imagesNotSynced == 2)
            #expect(limited.output.contains("registry \(reg.name): request budget of 7 spent; 2 images not synced (they keep their published trees)"),
                    "\(limited.output)")
            #expect(limited.output.contains("1 updated, 0 unchanged, 0 removed, 2 failed"), "\(limited.output)")

            // The budget is per run: the next run asks again and catches up.
            let next = try await sync([])
            #expect(next.status == 0, "\(next.output)")
            #expect(next.report.registries?[reg.name]?.stopped == nil)
            #expect(read(root + "/org/b:1/v") == "b2")
            #expect(read(root + "/org/c:1/v") == "c2")
        }
    }

    /// `--registry-limit` for one registry (by its name in references): a budget of 1 stops it at
    /// the ping, so every image fails and nothing is published (exit 3). Bad values are refused
    /// before any work (exit 2).
    @Test func registryLimitOption() async throws {
        try await withFakeEnvironment { env in
            let reg = try await env.registry()
            let (layout, _) = try await env.layout(Self.versionedImages)
            try await env.push(layout, tag: "a1", to: "\(reg.name)/org/a:1")
            try env.dir.write("images.txt", "\(reg.name)/org/a:1\n")
            let root = env.dir.file("root")
            let common = ["sync", "--images", env.dir.file("images.txt"), "--root", root, "--ca-file", env.ca.caCert, "--log-level", "error"]
            let stopped = try await imgsync(env, common + ["--registry-limit", "\(reg.name)=requests:1,concurrency:2"])
            #expect(stopped.status == 3, "\(stopped.output)")
            #expect(stopped.output.contains("registry \(reg.name): request budget of 1 spent; 1 image not synced"), "\(stopped.output)")
            #expect(stopped.output.contains("[budget-spent]"), "\(stopped.output)")
            // Another registry's limit does not apply.
            let other = try await imgsync(env, common + ["--registry-limit", "docker.io=requests:1"])
            #expect(other.status == 0, "\(other.output)")
            #expect(read(root + "/org/a:1/v") == "a1")

            for (bad, message) in [(["--registry-limit", "\(reg.name)=concurrency:0"], "concurrency must be at least 1"),
                                   (["--registry-limit", "nonsense"], "expected HOST=concurrency:N,requests:M"),
                                   (["--registry-concurrency", "0"], "--registry-concurrency must be at least 1"),
                                   (["--request-budget", "-1"], "--request-budget")] {
                let run = try await imgsync(env, common + bad)
                #expect(run.status == 2, "\(bad): \(run.output)")
                #expect(run.output.contains(message), "\(bad): \(run.output)")
            }
        }
    }
}
