#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ImgsyncCore
import ImgsyncRepository
import ImgsyncTestSupport
import NIOCore
import Synchronization
import Testing
@testable import ImgsyncSync

/// A build worker (the `imgsync` executable under test) driven directly: it stops when its sync
/// gives up on it, and what it leaves when killed mid-layer is removed before it is reaped.
@Suite(.timeLimit(.minutes(2))) struct WorkerProcessTests {
    /// A repository root and a job for one plain-tar layer of `tar`.
    func job(_ root: String, _ tar: [UInt8]) throws -> [UInt8] {
        _ = try Repository(root: root)
        let job = BuildJob(root: root, name: "org/w:1", imageID: SHA256Hasher.hash(Array("config".utf8)).description, linkMode: "copy",
                           worldReadable: false, gzipEngine: "zlib", limits: LayerLimits(),
                           diffIDs: [SHA256Hasher.hash(tar).description], reusedLayers: 0,
                           layers: [.init(index: 0, mediaType: "application/vnd.oci.image.layer.v1.tar", label: "1/1 test")], sandbox: nil)
        return Array(try JSONEncoder().encode(job))
    }

    func start(_ root: String) throws -> WorkerProcess {
        try WorkerProcess.start(executable: imgsyncExecutable, arguments: ["build-worker"]) { pid in
            WorkerLeftovers.remove(pid: pid, root: root, nameDirectory: root + "/org")
        }
    }

    func withRoot<R>(_ body: (String) async throws -> R) async throws -> R {
        let root = FileManager.default.temporaryDirectory.path + "/imgsync-worker-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: root) }
        return try await body(root)
    }

    func staging(_ root: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: root + "/.imgsync/staging")) ?? []
    }

    /// A descriptor this process opened without close-on-exec does not reach the worker: it gets
    /// its three pipes and the lifeline, nothing more.
    @Test func aWorkerInheritsOnlyItsPipes() async throws {
        try await withRoot { root in
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            let path = root + "/held-open"
            let fd = open(path, O_WRONLY | O_CREAT, 0o644)  // deliberately without O_CLOEXEC
            #expect(fd >= 0)
            defer { close(fd) }
            let worker = try start(root)
            let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(worker.pid)/fd").compactMap(Int32.init).sorted()
            let targets = fds.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(worker.pid)/fd/\($0)") }
            worker.abandon()
            _ = await worker.exited()
            #expect(!targets.contains(path), "\(targets)")
            // 0-3 are the pipes; the runtime may open a few of its own after exec (none are ours).
            #expect(Array(fds.prefix(4)) == [0, 1, 2, 3], "\(fds) \(targets)")
            #expect(!targets.contains { $0.hasPrefix(root) }, "\(targets)")
        }
    }

    @Test func aWorkerStopsWhenItsSyncGivesUp() async throws {
        try await withRoot { root in
            var t = TarBuilder()
            t.dir("a/"); t.file("a/b", "b")
            let tar = t.build()
            let worker = try start(root)
            try worker.input.send(.job, try job(root, tar))
            try worker.input.send([ByteBuffer(bytes: tar.prefix(512))])
            // Waiting for the rest of the layer, until the sync closes the lifeline.
            try await Task.sleep(for: .milliseconds(300))
            worker.abandon()
            let exit = await worker.exited()
            #expect(exit.status == .exited(BuildWorker.abandoned), "\(exit.status) \(exit.diagnostics)")
            #expect(staging(root).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: root + "/org/w:1"))
        }
    }

    @Test func aKilledWorkersStagingTreeIsRemoved() async throws {
        try await withRoot { root in
            var t = TarBuilder()
            t.dir("d/")
            for i in 0..<2000 { t.file("d/f\(i)", "file \(i)") }
            let tar = t.build()
            let worker = try start(root)
            try worker.input.send(.job, try job(root, tar))
            try worker.input.send([ByteBuffer(bytes: tar.prefix(tar.count / 2))])
            // Files are being written into its staging tree; the end of the layer never comes.
            let deadline = Date().addingTimeInterval(30)
            while staging(root).isEmpty && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            try await Task.sleep(for: .milliseconds(200))
            #expect(staging(root).count == 1)
            kill(worker.pid, SIGKILL)
            let exit = await worker.exited()
            #expect(exit.status == .signaled(SIGKILL))
            #expect(staging(root).isEmpty, "left: \(staging(root))")
            let failure = BuildWorkerFailure(status: exit.status, firstDiagnostic: exit.firstDiagnostic, tree: "nothing was published")
            #expect(failure.description == "the build worker died of signal SIGKILL (out of memory, or killed from outside); nothing was published")
        }
    }

    /// A spare worker, started before any job (`imgsync add --sync` starts one while it asks the
    /// registry), is what the next build gets (`buildWorker`); it builds the job like a worker
    /// started for it, and runs the cleanup given when it was taken. A spare of another executable
    /// is not taken, and a spare let go ends. (One test: the spare is one per process.)
    @Test func aSpareWorkerTakesTheNextJob() async throws {
        try await withRoot { root in
            var t = TarBuilder()
            t.dir("a/"); t.file("a/b", "spare")
            let tar = t.build()
            let payload = try job(root, tar)

            WorkerProcess.prestart(executable: imgsyncExecutable)
            #expect(WorkerProcess.takeSpare(executable: "/usr/bin/false") == nil)
            #expect(WorkerProcess.takeSpare(executable: imgsyncExecutable) == nil, "the spare of another executable was let go")

            // A build takes the spare (as the sync engine does), which then is gone from its slot.
            WorkerProcess.prestart(executable: imgsyncExecutable)
            let cleaned = Mutex(false)
            let spare = try WorkerProcess.buildWorker(executable: imgsyncExecutable) { _ in cleaned.withLock { $0 = true } }
            #expect(WorkerProcess.takeSpare(executable: imgsyncExecutable) == nil, "a spare is taken once")
            #expect(spare.isRunning)
            try spare.input.send(.job, payload)
            try spare.input.send([ByteBuffer(bytes: tar)])
            try spare.input.send(.end)
            spare.input.close()
            let exit = await spare.exited()
            #expect(exit.status == .exited(0), "\(exit.status) \(exit.diagnostics)")
            #expect(exit.result?.error == nil)
            #expect(cleaned.withLock { $0 })
            #expect(try String(contentsOfFile: root + "/org/w:1/a/b", encoding: .utf8) == "spare")
            #expect(staging(root).isEmpty)

            // Let go before any job: it ends (as abandoned), and nothing is published for it.
            WorkerProcess.prestart(executable: imgsyncExecutable)
            let unused = try #require(WorkerProcess.takeSpare(executable: imgsyncExecutable))
            unused.abandon()
            #expect(await unused.exited().status == .exited(BuildWorker.abandoned))
            WorkerProcess.prestart(executable: imgsyncExecutable)
            WorkerProcess.discardSpare()
            #expect(WorkerProcess.takeSpare(executable: imgsyncExecutable) == nil)
        }
    }
}
