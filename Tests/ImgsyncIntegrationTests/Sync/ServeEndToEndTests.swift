import Foundation
import Testing

/// `imgsync serve` against the real registry: distribution sends its own notifications to the
/// service (`notifications: endpoints:`), Harbor-shaped requests are posted by the test. Waits are
/// polls with generous limits, never timed assertions.
@Suite(.timeLimit(.minutes(10))) struct ServeEndToEndTests {
    static let token = "s3cret-token"

    struct Service {
        let process: ChildProcess
        let port: Int
        var url: String { "http://127.0.0.1:\(port)" }
    }

    /// Starts `imgsync serve` on `port` with the token file and `arguments`; returns once it listens.
    func serve(_ env: FakeEnvironment, port: Int, root: String, _ arguments: [String]) async throws -> Service {
        try env.dir.write("token", Self.token + "\n")
        let id = UUID().uuidString.prefix(6)
        let process = try ChildProcess.start(
            [SyncCrashTests.imgsync, "serve", "--images", env.dir.file("images.txt"), "--root", root, "--listen", "127.0.0.1:\(port)",
             "--ca-file", env.ca.caCert, "--webhook-token-file", env.dir.file("token"), "--events", env.dir.file("events.jsonl"),
             "--log-level", "info"] + arguments,
            logFile: env.dir.file("serve-\(id).log"))
        env.track(process)
        try await waitForPort("127.0.0.1", port)
        return Service(process: process, port: port)
    }

    /// `curl` a request; returns the HTTP status and the body.
    @discardableResult
    func request(_ url: String, method: String = "GET", body: String? = nil, token: String? = ServeEndToEndTests.token,
                 contentType: String = "application/json") async throws -> (status: Int, body: String) {
        var arguments = ["curl", "-s", "-X", method, "-w", "\n%{http_code}", "--max-time", "30"]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        if body != nil { arguments += ["-H", "Content-Type: \(contentType)", "--data-binary", "@-"] }
        arguments.append(url)
        let out = try await ChildProcess.run(arguments, stdin: body)
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? -1, lines.dropLast().joined(separator: "\n"))
    }

    /// Polls until `condition` holds (at most `timeout` seconds); fails the test with `what` otherwise.
    func eventually(_ what: String, timeout: TimeInterval = 120, _ condition: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("not within \(Int(timeout)) s: \(what)")
        throw CommandFailed(command: ["wait"], status: -1, output: what)
    }

    func published(_ root: String, _ name: String) -> Bool {
        FileManager.default.fileExists(atPath: root + "/" + name)
    }

    func events(_ env: FakeEnvironment, _ kind: String) -> Int {
        let text = (try? String(contentsOfFile: env.dir.file("events.jsonl"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { $0.contains(#""event":"\#(kind)""#) }.count
    }

    func metric(_ service: Service, _ name: String) async throws -> String? {
        let text = try await request(service.url + "/metrics").body
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.map { String($0.dropFirst(name.count + 1)) }
    }

    func harborPush(_ host: String, _ repository: String, _ tag: String) -> String {
        """
        {"type":"PUSH_ARTIFACT","occur_at":1700000000,"operator":"ci",
         "event_data":{"resources":[{"tag":"\(tag)","resource_url":"\(host)/\(repository):\(tag)"}],
                       "repository":{"name":"x","namespace":"y","repo_full_name":"\(repository)","repo_type":"private"}}}
        """
    }

    func stop(_ service: Service) async throws {
        kill(service.process.process.processIdentifier, SIGTERM)
        try await eventually("serve exits after SIGTERM", timeout: 60) { !service.process.process.isRunning }
        #expect(service.process.process.terminationStatus == 0)
    }

    /// A registry (with `notify`, sending its notifications to the service about to be started on
    /// `port`), the standard images in an OCI layout, `images.txt` holding `list`:
    /// `body(env, registry, layout, port, root)`.
    func withRegistry(notify: Bool, list: (LocalRegistry) -> String,
                      _ body: (FakeEnvironment, LocalRegistry, String, Int, String) async throws -> Void) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: SyncCrashTests.imgsync), "imgsync is not built at \(SyncCrashTests.imgsync)")
        try await withFakeEnvironment { env in
            let port = try freePort()
            let reg = notify ? try await env.registry(notify: "http://127.0.0.1:\(port)/webhook", notifyToken: Self.token)
                : try await env.registry()
            let (layout, _) = try await env.layout(standardImages)
            try env.dir.write("images.txt", list(reg))
            try await body(env, reg, layout, port, env.dir.file("root"))
        }
    }

    @Test func registryPushesOfMatchingTagsArePublishedAndABurstIsOneRun() async throws {
        try await withRegistry(notify: true, list: { "\($0.name)/org/app:burst-*\n" }) { env, reg, layout, port, root in
            // No scheduled sync during the test: only pushes make runs.
            let service = try await serve(env, port: port, root: root, ["--initial-delay", "1h", "--debounce", "6s"])

            try await env.push(layout, tag: "single", to: "\(reg.name)/org/app:burst-0")
            let pushed = Date()
            // Unlisted: acknowledged and ignored.
            try await env.push(layout, tag: "docker", to: "\(reg.name)/org/unlisted:1")
            try await eventually("org/app:burst-0 is published after its push") { published(root, "org/app:burst-0") }
            print("serve: push to published tree: \(String(format: "%.1f", Date().timeIntervalSince(pushed))) s (debounce 6 s)")
            try await eventually("the run ends") { events(env, "run-end") == 1 }
            #expect(!published(root, "org/unlisted:1"))

            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 1...10 {
                    group.addTask { try await env.push(layout, tag: "single", to: "\(reg.name)/org/app:burst-\(i)") }
                }
                try await group.waitForAll()
            }
            let lastPush = Date()
            try await eventually("the ten pushed tags are published") { (1...10).allSatisfy { published(root, "org/app:burst-\($0)") } }
            print("serve: burst of ten pushes published \(String(format: "%.1f", Date().timeIntervalSince(lastPush))) s after the last push (debounce 6 s)")
            try await eventually("the run ends") { events(env, "run-end") >= 2 }
            #expect(events(env, "run-start") == 2, "the burst of ten pushes is one run")
            #expect(try await metric(service, #"imgsync_serve_runs{kind="partial"}"#) == "2")
            #expect(try await metric(service, #"imgsync_serve_runs{kind="full"}"#) == "0")
            #expect(try await metric(service, "imgsync_serve_queue_depth") == "0")
            #expect(!published(root, "org/unlisted:1"))
            try await stop(service)
        }
    }

    @Test func harborPushesTokensAndPartialRuns() async throws {
        try await withRegistry(notify: false, list: { "\($0.name)/org/app:1\n\($0.name)/org/app:v*\n" }) { env, reg, layout, port, root in
            try await env.push(layout, tag: "single", to: "\(reg.name)/org/app:1")
            try await env.push(layout, tag: "docker", to: "\(reg.name)/org/other:1")
            let service = try await serve(env, port: port, root: root, ["--debounce", "1s"])
            try await eventually("the first scheduled sync makes /healthz 200") { try await request(service.url + "/healthz").status == 200 }
            #expect(published(root, "org/app:1"))
            // Another process holding the repository lock makes the service unhealthy.
            // Close-on-exec: a child another test starts meanwhile must not inherit (and keep) the lock.
            let lock = open(root + "/.imgsync/lock", O_RDWR | O_CLOEXEC)
            try #require(lock >= 0)
            #expect(flock(lock, LOCK_EX | LOCK_NB) == 0)
            #expect(try await request(service.url + "/healthz").status == 503)
            close(lock)
            #expect(try await request(service.url + "/healthz").status == 200)

            // Refused requests change nothing.
            let other = harborPush(reg.name, "org/other", "1")
            #expect(try await request(service.url + "/webhook", method: "POST", body: other, token: nil).status == 401)
            #expect(try await request(service.url + "/webhook", method: "POST", body: other, token: "wrong").status == 401)
            #expect(try await request(service.url + "/webhook", method: "POST", body: "{\"events\": 5}").status == 400)
            #expect(try await request(service.url + "/webhook", method: "GET").status == 405)
            let huge = "{\"events\":[" + String(repeating: " ", count: 2 << 20) + "]}"
            #expect(try await request(service.url + "/webhook", method: "POST", body: huge).status == 413)
            let ignored = try await request(service.url + "/webhook", method: "POST", body: other)
            #expect(ignored.status == 202)
            #expect(ignored.body.contains(#""queued":0"#), "\(ignored.body)")
            #expect(try await metric(service, "imgsync_serve_queue_depth") == "0")
            #expect(!published(root, "org/other:1"))

            // A partial run touches only what the push updates: org/app:1 leaves the list, and stays.
            try env.dir.write("images.txt", "\(reg.name)/org/app:v*\n")
            try await env.push(layout, tag: "docker", to: "\(reg.name)/org/app:v1")
            let accepted = try await request(service.url + "/webhook", method: "POST", body: harborPush(reg.name, "org/app", "v1"))
            #expect(accepted.status == 202)
            #expect(accepted.body.contains(#""queued":1"#), "\(accepted.body)")
            try await eventually("org/app:v1 is published after the Harbor push") { published(root, "org/app:v1") }
            try await eventually("the partial run ends") { events(env, "run-end") >= 2 }
            #expect(published(root, "org/app:1"), "a partial run removes nothing")

            let status = try await request(service.url + "/status")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(status.body.utf8)) as? [String: Any])
            let names = try #require(json["names"] as? [String: Any])
            #expect(Set(names.keys) == ["org/app:1", "org/app:v1"])
            let since = try #require(try await metric(service, "imgsync_serve_seconds_since_last_success").flatMap(Double.init))
            #expect(since >= 0)
            try await stop(service)
        }
    }

    @Test func sigtermAbandonsTheRunInProgressCleanly() async throws {
        try await withRegistry(notify: false, list: { "\($0.name)/org/app:1\n" }) { env, reg, layout, port, root in
            try await env.push(layout, tag: "single", to: "\(reg.name)/org/app:1")
            let release = env.dir.file("release")
            // The first sync stops in its before-change hook until the test releases it.
            let hook = "while [ ! -e \(release) ]; do sleep 0.2; done"
            let service = try await serve(env, port: port, root: root, ["--before-change", hook, "--stop-timeout", "2s"])
            defer { FileManager.default.createFile(atPath: release, contents: nil) }
            try await eventually("the first sync runs") { try await request(service.url + "/status").body.contains(#""running" : "full""#) }
            kill(service.process.process.processIdentifier, SIGTERM)
            try await eventually("serve exits after SIGTERM and the stop timeout", timeout: 60) { !service.process.process.isRunning }
            #expect(service.process.process.terminationStatus == 0)
            #expect(!published(root, "org/app:1"), "the abandoned run published nothing")
            #expect(events(env, "run-end") == 0)
        }
    }

    @Test func aPushQueuedBeforeARestartIsStillPublished() async throws {
        try await withRegistry(notify: true, list: { "\($0.name)/org/app:v*\n" }) { env, reg, layout, port, root in
            // Nothing runs in the first service: the push stays queued.
            let first = try await serve(env, port: port, root: root, ["--initial-delay", "1h", "--debounce", "1h"])
            try await env.push(layout, tag: "single", to: "\(reg.name)/org/app:v9")
            try await eventually("the push is queued") { try await metric(first, "imgsync_serve_queue_depth") == "1" }
            first.process.stop()  // SIGKILL: no chance to do anything at exit
            #expect(!published(root, "org/app:v9"))

            let second = try await serve(env, port: port, root: root, ["--initial-delay", "1h", "--debounce", "1s"])
            try await eventually("the queued push is published after the restart") { published(root, "org/app:v9") }
            try await eventually("the queue empties") { try await metric(second, "imgsync_serve_queue_depth") == "0" }
            try await stop(second)
        }
    }
}
