import Foundation
import ImgsyncCore
import ImgsyncRepository
import ImgsyncTestSupport
import Testing

/// Crash safety (issue 4): `kill -9` of `imgsync sync` at random moments of a multi-image build, at
/// least 20 times. After every kill each published name must resolve to a complete tree that
/// `imgsync verify` accepts; afterwards a normal sync completes and leaves no leftovers.
@Suite(.timeLimit(.minutes(10))) struct SyncCrashTests {
    /// The `imgsync` executable under test (see `imgsyncExecutable`).
    static var imgsync: String { imgsyncExecutable }

    func layer(_ env: FakeEnvironment, seed: UInt64, files: Int) throws -> String {
        var g = LayerGenerator(seed: seed, fileCount: files, directoryCount: max(1, files / 40))
        g.maxFileSize = 256 << 10
        let path = env.dir.file("gen-\(seed).tar")
        _ = try g.write(toPath: path)
        return path
    }

    struct Run {
        var status: Int32
        var killed: Bool
        var output: String
    }

    /// Runs `imgsync sync`; with `killAfter`, SIGKILLs it after that many seconds if still running.
    func sync(_ env: FakeEnvironment, list: String, root: String, killAfter: Double? = nil) async throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.imgsync)
        p.arguments = ["sync", "--images", list, "--root", root, "--ca-file", env.ca.caCert, "--grace", "0s",
                       "--log-level", "error", "--jobs", "2"]
        let out = env.dir.file("sync-\(UUID().uuidString.prefix(6)).out")
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardOutput = handle
        p.standardError = handle
        try p.runSerialized()
        var killed = false
        let start = Date()
        while p.isRunning {
            if let k = killAfter, Date().timeIntervalSince(start) >= k {
                kill(p.processIdentifier, SIGKILL)
                killed = true
                break
            }
            if Date().timeIntervalSince(start) > 300 {
                kill(p.processIdentifier, SIGKILL)
                throw CommandFailed(command: p.arguments ?? [], status: -1, output: "sync did not finish in 300 s")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        p.waitUntilExit()
        try? handle.close()
        return Run(status: p.terminationStatus, killed: killed && p.terminationReason == .uncaughtSignal,
                   output: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
    }

    func verify(_ root: String) async throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.imgsync)
        p.arguments = ["verify", "--root", root]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.runSerialized()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Every name resolves to a directory under .images with a catalog; nothing half-made is visible.
    func checkNames(_ root: String, trial: Int) throws {
        let repo = try Repository(root: root)
        for (name, id) in repo.publishedNames() {
            var st = stat()
            #expect(stat(root + "/" + name, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR, "trial \(trial): \(name) dangles")
            #expect(FileManager.default.fileExists(atPath: repo.imageCatalogPath(id)), "trial \(trial): \(name) has no catalog")
        }
        let items = try FileManager.default.contentsOfDirectory(atPath: root)
        #expect(!items.contains { $0.hasPrefix(".imgsync-link-") }, "trial \(trial): temporary link visible")
    }

    @Test func killNineAtRandomMomentsLeavesConsistentTrees() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.imgsync) else {
            Issue.record("the imgsync executable is not built at \(Self.imgsync) (run `swift build --build-tests` first)")
            return
        }
        try await withFakeEnvironment { env in
            let reg = try await env.registry()
            let base = try layer(env, seed: 1, files: 1500)
            // Two long-lived images plus one new image per trial, so that every run has something to
            // download and build (and something to remove: the previous trial's image).
            let trials = 24
            var spec: [String] = []
            for i in 0..<(trials + 3) {
                let top = try layer(env, seed: UInt64(10 + i), files: 400)
                spec.append(#"{"tag":"t\#(i)","manifests":[{"config":{"Env":["N=\#(i)"]},"layers":[{"tar":"\#(base)","compression":"gzip"},{"tar":"\#(top)","compression":"zstd"}]}]}"#)
            }
            let (layout, _) = try await env.layout("[" + spec.joined(separator: ",") + "]")
            for i in 0..<(trials + 3) { try await env.push(layout, tag: "t\(i)", to: "\(reg.name)/crash/img\(i):1") }
            func list(_ trial: Int) throws -> String {
                let name = "list-\(trial).txt"
                try env.dir.write(name, [0, 1, trial + 2].map { "\(reg.name)/crash/img\($0):1" }.joined(separator: "\n") + "\n")
                return env.dir.file(name)
            }

            // Calibrate: how long a full sync of the first list takes into an empty root.
            let t0 = Date()
            let full = try await sync(env, list: try list(0), root: env.dir.file("calibration"))
            var duration = Date().timeIntervalSince(t0)
            #expect(full.status == 0, "calibration sync failed: \(full.output)")

            let root = env.dir.file("root")
            var rng = SplitMix64(seed: 42)
            var kills = 0
            for trial in 0..<trials {
                // Kill at a uniformly random moment of a run like the last one that completed.
                let delay = Double.random(in: 0...(duration * 0.9), using: &rng)
                let started = Date()
                let r = try await sync(env, list: try list(trial), root: root, killAfter: delay)
                if r.killed {
                    kills += 1
                } else {
                    duration = Date().timeIntervalSince(started)
                }
                try checkNames(root, trial: trial)
                let (status, output) = try await verify(root)
                #expect(status == 0, "trial \(trial) (killed after \(delay) s): verify failed:\n\(output)")
            }
            #expect(kills >= 20, "only \(kills) of 24 runs were killed mid-way")

            // Recovery: a normal run completes and cleans what the killed runs left behind.
            let final = try await sync(env, list: try list(0), root: root)
            #expect(final.status == 0, "\(final.output)")
            let (status, output) = try await verify(root)
            #expect(status == 0, "\(output)")
            let staging = try FileManager.default.contentsOfDirectory(atPath: root + "/.imgsync/staging")
            #expect(staging.isEmpty, "staging leftovers: \(staging)")
            let tmp = (try? FileManager.default.contentsOfDirectory(atPath: root + "/.objects/tmp")) ?? []
            #expect(tmp.isEmpty, "object temporaries left: \(tmp)")
            let names = try Repository(root: root).publishedNames().map(\.name).sorted()
            #expect(names == ["crash/img0:1", "crash/img1:1", "crash/img2:1"], "\(names)")
            #expect(FileManager.default.fileExists(atPath: root + "/crash/img2:1/.singularity.d/env/99-base.sh"))
        }
    }
}
