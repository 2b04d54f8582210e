import Foundation
import ImgsyncTestSupport
import Testing

/// What the build worker costs on a large layer: `imgsync sync` of one image with a generated
/// layer of about `IMGSYNC_BENCH_WORKER_MB` MB (uncompressed; gzip in the registry), with the build
/// in a worker and in process (`--build-in-process`), alternating, each into a fresh root on the
/// same file system (kept until the end: see scripts/bench-apply on ext4 after deletions), or on a
/// tmpfs (`IMGSYNC_BENCH_WORKER_TMPFS`). Prints the medians. Only runs when the variable is set;
/// point `IMGSYNC_BIN` at a release build.
@Suite struct WorkerOverheadBenchmark {
    static let megabytes = Int(ProcessInfo.processInfo.environment["IMGSYNC_BENCH_WORKER_MB"] ?? "") ?? 0
    static let runs = Int(ProcessInfo.processInfo.environment["IMGSYNC_BENCH_WORKER_RUNS"] ?? "") ?? 3
    /// A tmpfs directory for the roots (each removed after its run), to keep disk writeback out of
    /// the figures.
    static let tmpfs = ProcessInfo.processInfo.environment["IMGSYNC_BENCH_WORKER_TMPFS"]

    @Test(.enabled(if: megabytes > 0), .timeLimit(.minutes(60))) func workerVersusInProcess() async throws {
        try await withFakeEnvironment { env in
            let reg = try await env.registry()
            var g = LayerGenerator(seed: 8, fileCount: Self.megabytes * 25, directoryCount: Self.megabytes)
            g.maxFileSize = 8 << 20
            let tar = env.dir.file("big.tar")
            let summary = try g.write(toPath: tar)
            let (layout, _) = try await env.layout(#"[{"tag":"big","manifests":[{"config":{"Env":["A=1"]},"layers":[{"tar":"\#(tar)","compression":"gzip"}]}]}]"#)
            try await env.push(layout, tag: "big", to: "\(reg.name)/bench/big:1")
            try env.dir.write("images.txt", "\(reg.name)/bench/big:1\n")
            // Per mode: wall seconds and CPU seconds (user + system, the worker included: GNU time
            // counts waited-for children), the latter less sensitive to other load on the machine.
            var wall: [Bool: [Double]] = [true: [], false: []], cpu: [Bool: [Double]] = [true: [], false: []]
            for run in 0..<(2 * Self.runs) {
                let inWorker = run % 2 == 0
                let root = (Self.tmpfs ?? env.dir.path) + "/root-\(run)", timing = env.dir.file("time-\(run)")
                defer { if Self.tmpfs != nil { try? FileManager.default.removeItem(atPath: root) } }
                var arguments = ["/usr/bin/time", "-o", timing, "-f", "%e %U %S", imgsyncExecutable, "sync", "--images", env.dir.file("images.txt"),
                                 "--root", root, "--ca-file", env.ca.caCert, "--log-level", "error", "--no-gc"]
                if !inWorker { arguments.append("--build-in-process") }
                sync()
                try await Task.sleep(for: .seconds(2))
                _ = try await ChildProcess.run(["env", "HOME=\(env.dir.path)"] + arguments, timeout: 1800)
                let figures = try String(contentsOfFile: timing, encoding: .utf8).split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
                try #require(figures.count == 3)
                wall[inWorker]!.append(figures[0])
                cpu[inWorker]!.append(figures[1] + figures[2])
            }
            func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
            func list(_ xs: [Double]) -> String { xs.map { String(format: "%.2f", $0) }.joined(separator: " ") }
            let w = median(wall[true]!), p = median(wall[false]!), wc = median(cpu[true]!), pc = median(cpu[false]!)
            let mb = Double(summary.tarByteCount) / 1e6
            print(String(format: "worker-overhead: layer %.0f MB (%d files); wall: in process %.2f s (%.0f MB/s), in a worker %.2f s (%.0f MB/s), %+.1f %%; CPU: in process %.2f s, in a worker %.2f s, %+.1f %%",
                         mb, summary.fileCount, p, mb / p, w, mb / w, (w / p - 1) * 100, pc, wc, (wc / pc - 1) * 100))
            print("worker-overhead: wall in process \(list(wall[false]!)); in a worker \(list(wall[true]!)); CPU in process \(list(cpu[false]!)); in a worker \(list(cpu[true]!))")
        }
    }
}
