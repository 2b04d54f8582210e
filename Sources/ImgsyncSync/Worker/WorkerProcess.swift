#if canImport(Glibc)
import Glibc
#endif
import CImgsyncSys
import Foundation
import ImgsyncCore
import Synchronization
import ImgsyncRepository

/// The system calls of the build-worker machinery (ImgsyncCore keeps its wrappers internal).
enum WorkerSys {
    static func failure(_ op: String, _ what: String, _ e: Int32 = errno) -> ImgsyncError {
        let text = strerror(e).map { String(cString: $0) } ?? "errno \(e)"
        return ImgsyncError(.io, "\(op) \(what): \(text)", errno: e)
    }

    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Held while pipes for a worker are made and while a worker is spawned: `pipe2` is not
    /// exported to Swift, and a pipe end that is not close-on-exec yet must not leak into another
    /// worker spawned at that moment (its write end would then never see the reader go). Foundation's
    /// `Process` (the hooks) closes every other descriptor in its children.
    static let spawnLock = NSLock()

    /// A pipe whose ends are close-on-exec and numbered 10 or more, so that no other worker
    /// inherits them and the worker's `dup2` onto 0–3 never lands on one of them. Call with
    /// `spawnLock` held.
    static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard Glibc.pipe(&fds) == 0 else { throw failure("create", "a pipe for the build worker") }
        for i in 0..<2 {
            let moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 10)
            let e = errno
            Glibc.close(fds[i])
            guard moved >= 0 else {
                if i == 1 { Glibc.close(fds[0]) } else { Glibc.close(fds[1]) }
                throw failure("create", "a pipe for the build worker", e)
            }
            fds[i] = moved
        }
        return (fds[0], fds[1])
    }
}

/// How a build worker ended: its exit status and what it wrote.
struct WorkerExit: Sendable {
    enum Status: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
    }

    var status: Status
    /// Its stdout: the result, one JSON line.
    var output: [UInt8]
    /// The beginning of its stderr (a trap's message and backtrace); empty normally.
    var diagnostics: String

    /// The result the worker reported, if it got that far.
    var result: WorkerResult? {
        guard let line = output.split(separator: UInt8(ascii: "\n")).last else { return nil }
        return try? JSONDecoder().decode(WorkerResult.self, from: Data(line))
    }

    /// The line of `diagnostics` worth quoting, bounded: a trap's "…: Fatal error: …" (or a failed
    /// precondition or allocation), else what the Swift runtime's crash report says
    /// ("Bad pointer dereference at 0x…"), else the first line.
    var firstDiagnostic: String? {
        let lines = diagnostics.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let traps = ["Fatal error", "Precondition failed", "Assertion failed", "Could not allocate memory"]
        var line = lines.first { l in traps.contains { l.contains($0) } }
        if line == nil, let crash = lines.first(where: { $0.contains("Program crashed: ") }) {
            line = crash.components(separatedBy: "Program crashed: ").last?.replacingOccurrences(of: " ***", with: "")
        }
        guard let line = line ?? lines.first(where: { !$0.hasPrefix("***") }) else { return nil }
        return line.count > 300 ? String(line.prefix(300)) + "…" : line
    }
}

/// One `imgsync build-worker` process: its input pipe (framed job and layer bytes, `WorkerFrames`),
/// and a thread that collects its stdout and stderr, waits for it to end, removes what it left in
/// the repository (while its pid cannot be reused yet) and then reaps it.
///
/// A fourth descriptor, the lifeline (fd 3 in the worker), has its write end held only by this
/// process: the worker exits at once when it reads end of file there, that is when this process
/// dies or `abandon()`s the build, so no worker outlives the sync that started it.
final class WorkerProcess: @unchecked Sendable {
    // @unchecked: `input` is used by one feeding thread at a time (the build's steps run one after
    // another); `lifeline` and `exit` are guarded by `lock`.
    let pid: pid_t
    let input: WorkerInput
    private let lock = NSLock()
    private var lifeline: Int32
    private var exit: WorkerExit?
    private var waiters: [CheckedContinuation<WorkerExit, Never>] = []
    /// Runs once the worker has ended, before its pid is released (`start`, `whenEnded`); taken
    /// (set to nil) when the worker has ended.
    private var afterExit: (@Sendable (pid_t) -> Void)?
    /// The executable it runs (a spare is taken only by a build that would start the same one).
    let executable: String

    /// Largest stdout kept (the result line) and largest stderr kept (diagnostics).
    static let maxOutput = 16 << 20
    static let maxDiagnostics = 64 << 10

    private init(pid: pid_t, input: Int32, lifeline: Int32, executable: String, afterExit: (@Sendable (pid_t) -> Void)?) {
        self.pid = pid
        self.input = WorkerInput(fd: input)
        self.lifeline = lifeline
        self.executable = executable
        self.afterExit = afterExit
    }

    /// Starts `executable arguments…`; `afterExit(pid)` runs once the worker has ended, before its pid
    /// is released (or the one given later to `whenEnded`).
    static func start(executable: String, arguments: [String], afterExit: (@Sendable (pid_t) -> Void)?) throws -> WorkerProcess {
        // A worker that stops reading must not kill this process with SIGPIPE (NIO ignores it too).
        _ = signal(SIGPIPE, SIG_IGN)
        WorkerSys.spawnLock.lock()
        defer { WorkerSys.spawnLock.unlock() }
        var opened: [Int32] = []
        func pipe() throws -> (read: Int32, write: Int32) {
            let p = try WorkerSys.pipe()
            opened += [p.read, p.write]
            return p
        }
        let stdin: (read: Int32, write: Int32), stdout: (read: Int32, write: Int32)
        let stderr: (read: Int32, write: Int32), life: (read: Int32, write: Int32)
        do {
            (stdin, stdout, stderr, life) = (try pipe(), try pipe(), try pipe(), try pipe())
        } catch {
            for fd in opened { WorkerSys.close(fd) }
            throw error
        }
        // Larger than the default 64 KiB, so that one write of layer bytes fits (best effort:
        // F_SETPIPE_SZ, 1031, is not exported to Swift).
        _ = fcntl(stdin.write, 1031, Int32(WorkerFrame.writeSize))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (fd, target) in [(stdin.read, Int32(0)), (stdout.write, 1), (stderr.write, 2), (life.read, 3)] {
            posix_spawn_file_actions_adddup2(&actions, fd, target)
        }
        // Nothing else of this process reaches the worker: not the repository lock, not a file or
        // socket some library opened without close-on-exec. (An inherited end of the socket pair
        // by which Foundation's `Process` learns that a child ended kept that child unreaped, and a
        // test waiting for it spinning, for as long as the worker lived.)
        let closing = imgsync_spawn_closefrom(&actions, 4)
        guard closing == 0 else {
            for fd in [stdin.read, stdin.write, stdout.read, stdout.write, stderr.read, stderr.write, life.read, life.write] { WorkerSys.close(fd) }
            throw WorkerSys.failure("start", "the build worker \(executable) (closing inherited descriptors)", closing)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The spawning thread's mask may block signals (NIO's threads do); the worker starts clean.
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        // A crash's backtrace shows the crashed thread only (the operator's SWIFT_BACKTRACE wins).
        var environment = ProcessInfo.processInfo.environment
        if environment["SWIFT_BACKTRACE"] == nil { environment["SWIFT_BACKTRACE"] = "threads=crashed,registers=none,images=none" }
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in envp { free(p) } }
        var spawned: pid_t = 0
        let rc = posix_spawn(&spawned, executable, &actions, &attributes, argv, envp)
        let pid = spawned
        for fd in [stdin.read, stdout.write, stderr.write, life.read] { WorkerSys.close(fd) }
        guard rc == 0 else {
            for fd in [stdin.write, stdout.read, stderr.read, life.write] { WorkerSys.close(fd) }
            throw WorkerSys.failure("start", "the build worker \(executable)", rc)
        }
        let worker = WorkerProcess(pid: pid, input: stdin.write, lifeline: life.write, executable: executable, afterExit: afterExit)
        let thread = Thread {
            let (output, diagnostics) = collect(stdout: stdout.read, stderr: stderr.read)
            // Ended (or closed both outputs, which the worker never does before it ends): wait for
            // it without reaping, clean up while the pid is still ours, then reap.
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
            worker.takeAfterExit()?(pid)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let signal = status & 0x7f
            let ended: WorkerExit.Status = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
            worker.finish(WorkerExit(status: ended, output: output, diagnostics: String(decoding: diagnostics, as: UTF8.self)))
        }
        thread.name = "imgsync-worker-\(pid)"
        thread.start()
        return worker
    }

    /// Reads both pipes to their end; keeps the first `maxOutput` / `maxDiagnostics` bytes.
    private static func collect(stdout: Int32, stderr: Int32) -> ([UInt8], [UInt8]) {
        var output: [UInt8] = [], diagnostics: [UInt8] = []
        var fds = [pollfd(fd: stdout, events: Int16(POLLIN), revents: 0), pollfd(fd: stderr, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while fds.contains(where: { $0.fd >= 0 }) {
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for i in fds.indices where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fds[i].fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    WorkerSys.close(fds[i].fd)
                    fds[i].fd = -1
                    continue
                }
                if i == 0 {
                    output += buffer[0..<min(n, max(0, maxOutput - output.count))]
                } else {
                    diagnostics += buffer[0..<min(n, max(0, maxDiagnostics - diagnostics.count))]
                }
            }
        }
        for fd in fds where fd.fd >= 0 { WorkerSys.close(fd.fd) }
        return (output, diagnostics)
    }

    /// The cleanup to run now that the worker has ended (nil when none was given).
    private func takeAfterExit() -> (@Sendable (pid_t) -> Void)? {
        lock.withLock {
            defer { afterExit = nil }
            return afterExit
        }
    }

    /// Gives a worker started without one (a spare) the cleanup to run when it ends. A spare that
    /// ends before it is given one has had no job and written nothing: the cleanup is not run.
    private func whenEnded(_ cleanup: @escaping @Sendable (pid_t) -> Void) {
        lock.withLock { afterExit = cleanup }
    }

    /// Whether the worker has not been reaped yet.
    var isRunning: Bool { lock.withLock { exit == nil } }

    private func finish(_ ended: WorkerExit) {
        lock.lock()
        exit = ended
        if lifeline >= 0 { WorkerSys.close(lifeline) }
        lifeline = -1
        let resumed = waiters
        waiters = []
        lock.unlock()
        for w in resumed { w.resume(returning: ended) }
    }

    /// Stops the build: the worker exits as soon as it sees its lifeline closed (and its input
    /// ends). Its leftovers are removed when it has ended.
    func abandon() {
        lock.lock()
        if lifeline >= 0 { WorkerSys.close(lifeline) }
        lifeline = -1
        lock.unlock()
        input.close()
    }

    /// How the worker ended (waits for it).
    func exited() async -> WorkerExit {
        await withCheckedContinuation { (c: CheckedContinuation<WorkerExit, Never>) in
            lock.lock()
            if let exit {
                lock.unlock()
                c.resume(returning: exit)
            } else {
                waiters.append(c)
                lock.unlock()
            }
        }
    }
}

// MARK: a worker started ahead of its job

extension WorkerProcess {
    /// At most one worker started before any build asked for one (`BuildWorkers.prestart`).
    private static let spare = Mutex<WorkerProcess?>(nil)

    /// `imgsync build-worker` of `executable` for a build: the spare when one runs that executable,
    /// given `afterExit` now, else a new one.
    static func buildWorker(executable: String, afterExit: @escaping @Sendable (pid_t) -> Void) throws -> WorkerProcess {
        if let spare = takeSpare(executable: executable) {
            spare.whenEnded(afterExit)
            return spare
        }
        return try start(executable: executable, arguments: ["build-worker"], afterExit: afterExit)
    }

    /// Starts a spare worker unless one is waiting. Best effort: a worker that cannot be started
    /// now is started (and its failure reported) by the build that needs it.
    static func prestart(executable: String) {
        spare.withLock { slot in
            guard slot == nil else { return }
            slot = try? start(executable: executable, arguments: ["build-worker"], afterExit: nil)
        }
    }

    /// The spare worker, when one is running the same executable; nil otherwise (a spare that
    /// ended, or runs another executable, is let go).
    static func takeSpare(executable: String) -> WorkerProcess? {
        guard let worker = spare.withLock({ slot -> WorkerProcess? in defer { slot = nil }; return slot }) else { return nil }
        guard worker.executable == executable, worker.isRunning else {
            worker.abandon()
            return nil
        }
        return worker
    }

    /// Lets the spare worker go (it exits when its lifeline closes; its reaper thread reaps it).
    static func discardSpare() {
        spare.withLock { slot in
            slot?.abandon()
            slot = nil
        }
    }
}

/// Build workers started ahead of their job: a command that knows it will build (`imgsync add
/// --sync`) starts one while it asks the registry, so the worker's start-up (about 18 ms: loading
/// the executable and the Swift runtime) overlaps the requests instead of following them.
public enum BuildWorkers {
    /// Starts a spare `imgsync build-worker` of `executable`, taken by the next build of this process.
    public static func prestart(executable: String) {
        WorkerProcess.prestart(executable: executable)
    }

    /// Lets an unused spare go.
    public static func discardSpare() {
        WorkerProcess.discardSpare()
    }
}
