import ArgumentParser
import Foundation
import ImgsyncCore
import ImgsyncRepository
import ImgsyncServe
import ImgsyncSync
import Logging

/// `imgsync serve`: the sync job as a long-running service that also syncs after registry pushes
/// (docs/operations.md, "Timer or service").
public struct ServeCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Sync on a schedule and after registry push notifications; serve /webhook, /healthz, /metrics, /status.",
        discussion: """
        Every --interval the whole list is synced exactly as `imgsync sync` would (same lock, hooks, GC \
        and records). POST /webhook takes distribution (Docker registry) and Harbor push notifications; \
        a push of a listed tag (or of a tag a listed pattern matches) queues a sync of just those list \
        entries, run once no push arrived for --debounce. The queue is kept in --queue-file, so a \
        restart still syncs it. SIGTERM lets the run in progress finish (at most --stop-timeout, then \
        it is abandoned as a kill would: nothing partial is published) and exits 0.
        """
    )

    @OptionGroup var options: SyncRunOptions

    @Option(help: "Address to listen on, HOST:PORT (e.g. 127.0.0.1:8080, [::]:8080).")
    var listen = "127.0.0.1:8080"

    @Option(help: "Time between full syncs (e.g. 15m); a random part of up to a tenth of it (at most 5m) is added.")
    var interval = "15m"

    @Option(help: "Time from start to the first full sync (e.g. 0s, 5m).")
    var initialDelay = "0s"

    @Option(help: "Pushes are synced once none arrived for this long (e.g. 30s); a burst is one run.")
    var debounce = "30s"

    @Option(help: "File holding the shared secret webhooks must send as 'Authorization: Bearer <secret>'.")
    var webhookTokenFile: String?

    @Flag(help: "Accept webhooks without a token (only behind something that authenticates them).")
    var insecureWebhook = false

    @Option(help: "The queue of pushes not synced yet (default: <root>/.imgsync/serve-queue.json; outside the root for CVMFS).")
    var queueFile: String?

    @Option(help: "On SIGTERM, how long the run in progress may take to finish before it is abandoned.")
    var stopTimeout = "60s"

    public init() {}

    public func validate() throws {
        for (option, value) in [("--interval", interval), ("--initial-delay", initialDelay), ("--debounce", debounce),
                                ("--stop-timeout", stopTimeout)] {
            do { _ = try GracePeriod.parse(value) } catch { throw ValidationError("\(option): \(error)") }
        }
        guard try GracePeriod.parse(interval) >= 1 else { throw ValidationError("--interval must be at least 1s") }
        guard ListenAddress(listen) != nil else { throw ValidationError("--listen must be HOST:PORT, e.g. 127.0.0.1:8080") }
        if options.dryRun {
            throw ValidationError("--dry-run is for imgsync sync: a service that publishes nothing would drop the pushes it queued")
        }
        if webhookTokenFile != nil && insecureWebhook {
            throw ValidationError("give --webhook-token-file or --insecure-webhook, not both")
        }
    }

    public func run() async throws {
        let logger = makeLogger(label: "imgsync.serve", level: options.logLevel)
        let root = options.rootPath!
        let access = try webhookAccess()
        var schedule = ServeSchedule()
        schedule.interval = try GracePeriod.parse(interval)
        schedule.initialDelay = try GracePeriod.parse(initialDelay)
        schedule.debounce = try GracePeriod.parse(debounce)
        let stopSeconds = try GracePeriod.parse(stopTimeout)
        let address = ListenAddress(listen)!
        let queuePath = queueFile ?? root + "/.imgsync/serve-queue.json"
        // The queue's directory; a root that cannot be written yet (CVMFS) wants --queue-file outside it.
        try? FileManager.default.createDirectory(atPath: (queuePath as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        let queue = try PushQueue(path: queuePath)
        if let note = queue.recoveryNote { logger.warning("\(note)") }
        let lockPath = options.lockFile ?? ProcessInfo.processInfo.environment["IMGSYNC_LOCK_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? root + "/.imgsync/lock"
        let signals = StopSignals()

        try await options.registryOptions.withClient(logger: logger) { [options] client in
            let scheduler = ServeScheduler(schedule: schedule, queue: queue, list: nil, logger: logger,
                                           loadList: { try await ImageList.load(options.images, client: client) }) { pushes in
                await options.sync(client: client, logger: logger, command: "serve",
                                   select: pushes.map { pushes in { $0.lines(updatedBy: pushes) } })
            }
            let endpoints = ServeEndpoints(scheduler: scheduler, access: access, root: root, logger: logger) {
                LockProbe.obtainable(lockPath)
            }
            let server = try await HTTPServer.bind(host: address.host, port: address.port, maxBodyBytes: WebhookPayload.maxBodyBytes) {
                await endpoints.handle($0)
            }
            logger.info("listening on \(address.host):\(server.port); \(queue.depth) queued push(es); first full sync in \(initialDelay)")
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    do { try await server.serve() } catch { logger.error("http server: \(error)") }
                }
                group.addTask { await scheduler.run() }
                await signals.next()
                logger.info("stopping: no new runs; waiting at most \(stopTimeout) for the run in progress")
                await server.close()
                await scheduler.stop()
                group.addTask { [stopTimeout] in
                    try? await Task.sleep(for: .seconds(stopSeconds))
                    if await scheduler.running != nil {
                        logger.warning("the run in progress did not finish within \(stopTimeout); abandoning it (nothing partial is published; its pushes stay queued)")
                        Foundation.exit(0)
                    }
                }
                await group.next()
                await group.next()
                group.cancelAll()
            }
        }
        logger.info("stopped")
    }

    func webhookAccess() throws -> WebhookAccess {
        if insecureWebhook { return .open }
        guard let webhookTokenFile else { return .refused }
        guard let data = FileManager.default.contents(atPath: webhookTokenFile) else {
            throw ImgsyncError(.config, "--webhook-token-file \(webhookTokenFile): cannot read it")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty, !token.contains(where: { $0.isWhitespace }) else {
            throw ImgsyncError(.config, "--webhook-token-file \(webhookTokenFile): the token is empty or has spaces inside")
        }
        return .token(Array(token.utf8))
    }
}

/// `HOST:PORT`, the host possibly in brackets (`[::1]:8080`).
struct ListenAddress {
    var host: String
    var port: Int

    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }
}

/// Whether the repository lock could be taken now: a shared lock tried and released at once (a
/// missing lock file is a free lock).
enum LockProbe {
    static func obtainable(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return errno == ENOENT }
        defer { close(fd) }
        guard flock(fd, LOCK_SH | LOCK_NB) == 0 else { return false }
        flock(fd, LOCK_UN)
        return true
    }
}

/// SIGTERM and SIGINT, delivered as an async wait instead of ending the process.
/// `@unchecked Sendable`: the sources are created in `init` and never touched again; the stream
/// is Sendable.
final class StopSignals: @unchecked Sendable {
    private let stream: AsyncStream<Int32>
    private let sources: [any DispatchSourceSignal]

    init() {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        self.stream = stream
        sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    /// Returns at the first signal.
    func next() async {
        for await _ in stream { return }
    }
}
