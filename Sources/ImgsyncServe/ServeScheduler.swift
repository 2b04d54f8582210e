import Foundation
import ImgsyncSync
import Logging

/// When `imgsync serve` runs syncs.
public struct ServeSchedule: Sendable {
    /// Seconds between full syncs (`--interval`).
    public var interval: Double = 900
    /// Each interval is lengthened by a random part of up to this fraction of it (at most 5 minutes),
    /// so that services started together do not all hit a registry at once.
    public var jitter: Double = 0.1
    /// Seconds from start to the first full sync (`--initial-delay`).
    public var initialDelay: Double = 0
    /// A run after pushes starts once no push arrived for this many seconds (`--debounce`)...
    public var debounce: Double = 30
    /// ...or this long after the first of them, whichever comes first (a steady stream of pushes
    /// must not postpone the run forever).
    public var maxDelay: Double { max(debounce * 10, 1) }
    /// After a run that could not start (lock held, list unreadable), the queue waits this long.
    public var retryDelay: Double = 60

    public init() {}

    func nextInterval() -> Double {
        interval + Double.random(in: 0...min(interval * max(jitter, 0), 300))
    }
}

/// The outcome of one sync run, as the runner reports it.
public struct SyncRun: Sendable {
    /// The sync's exit status (0, 1, 3: it ran; 2: nothing was done).
    public var status: Int32
    public var report: SyncReport?
    /// Why the run did nothing (status 2).
    public var error: String?
    public var finished: Date
    /// The whole list the run read, also for a partial run (later webhooks are matched against it).
    public var list: ImageList?

    public init(status: Int32, report: SyncReport?, error: String? = nil, finished: Date = Date(), list: ImageList? = nil) {
        self.status = status
        self.report = report
        self.error = error
        self.finished = finished
        self.list = list
    }

    /// It published what it could (the metrics file's notion of success).
    public var succeeded: Bool { (status == 0 || status == 1) && report.map { !$0.dryRun } == true }
}

/// Runs one sync: every entry of the list (`pushes` nil), or the entries those pushes update.
public typealias SyncRunner = @Sendable (_ pushes: [RegistryPush]?) async -> SyncRun

/// Turns the interval and the queued pushes into sync runs, one at a time. Pushes that arrive
/// during a run are queued for the next one.
public actor ServeScheduler {
    public enum RunKind: String, Sendable, CaseIterable {
        case full, partial
    }

    let schedule: ServeSchedule
    let runner: SyncRunner
    let logger: Logger
    private(set) var queue: PushQueue
    /// The list as last read (by a run, or on a push when older than `listMaxAge`): pushes for
    /// entries it does not have are ignored on arrival. Nil until it could be read: pushes are then
    /// queued unfiltered (the run matches them against the list it reads).
    private(set) var list: ImageList?
    private var listRead = Date.distantPast
    let loadList: (@Sendable () async throws -> ImageList)?
    /// A push re-reads the list when it is older than this, so that an entry just added is matched.
    let listMaxAge: Double = 30
    private(set) var nextFullSync: Date
    private var retryAfter = Date.distantPast
    private var stopping = false
    public private(set) var running: RunKind?
    /// The last full sync, and the last run of either kind.
    public private(set) var lastFull: SyncRun?
    public private(set) var lastRun: SyncRun?
    public private(set) var lastSuccess: Date?
    public private(set) var runs: [RunKind: Int] = [:]
    /// The newest result of each name any run looked at.
    public private(set) var results: [String: ImageResult] = [:]

    public init(schedule: ServeSchedule, queue: PushQueue, list: ImageList?, logger: Logger,
                loadList: (@Sendable () async throws -> ImageList)? = nil, runner: @escaping SyncRunner, now: Date = Date()) {
        self.schedule = schedule
        self.queue = queue
        self.list = list
        self.loadList = loadList
        if list != nil { listRead = Date() }
        self.logger = logger
        self.runner = runner
        nextFullSync = now.addingTimeInterval(schedule.initialDelay)
    }

    /// Queues the pushes that update a listed entry and returns them; the others are ignored.
    /// Throws when the queue cannot be written (the caller answers 503: the registry retries).
    public func receive(_ pushes: [RegistryPush], at time: Date = Date()) async throws -> [RegistryPush] {
        if !pushes.isEmpty { await refreshList() }
        let wanted = list.map { list in pushes.filter { !list.lines(updatedBy: [$0]).isEmpty } } ?? pushes
        try queue.add(wanted, at: time)
        if !wanted.isEmpty {
            logger.info("queued \(wanted.map(\.description).joined(separator: ", ")) (\(queue.depth) waiting)")
        }
        return wanted
    }

    public var queueDepth: Int { queue.depth }

    private func refreshList() async {
        guard let loadList, Date().timeIntervalSince(listRead) >= listMaxAge else { return }
        do {
            list = try await loadList()
            listRead = Date()
        } catch {
            logger.warning("the list could not be read (\(error)); pushes are matched against the list as last read")
        }
    }

    /// Runs syncs when they are due until `stop()`; returns after the run in progress then.
    public func run() async {
        while !stopping {
            if let kind = due(Date()) {
                await perform(kind)
            } else {
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// Lets the run in progress finish and starts no other.
    public func stop() {
        stopping = true
    }

    /// What should run at `now`, if anything.
    func due(_ now: Date) -> RunKind? {
        if now >= nextFullSync { return .full }
        let pending = queue.pending
        guard !pending.isEmpty, now >= retryAfter, let first = pending.firstQueued, let last = pending.lastQueued else { return nil }
        let quiet = now.timeIntervalSince(last) >= schedule.debounce
        let waitedLongest = now.timeIntervalSince(first) >= schedule.maxDelay
        guard quiet || waitedLongest else { return nil }
        return pending.fullSync ? .full : .partial
    }

    func perform(_ kind: RunKind) async {
        let snapshot = queue.pending
        running = kind
        logger.info("\(kind == .full ? "full sync" : "sync of \(snapshot.pushes.count) push(es)") starting")
        let run = await runner(kind == .full ? nil : snapshot.pushes)
        running = nil
        if let list = run.list {
            self.list = list
            listRead = Date()
        }
        if kind == .partial && run.status == 0 && run.report == nil {
            // The pushes update nothing the list (read again) still has: no run took place.
            logger.info("the queued pushes match no entry of the list any more; nothing to sync")
            try? queue.remove(snapshot)
            return
        }
        runs[kind, default: 0] += 1
        lastRun = run
        if run.succeeded { lastSuccess = run.finished }
        for image in run.report?.images ?? [] { results[image.name] = image }
        if kind == .full { lastFull = run }
        if kind == .full { nextFullSync = Date().addingTimeInterval(schedule.nextInterval()) }
        if run.status == 2 {
            retryAfter = Date().addingTimeInterval(schedule.retryDelay)
            logger.warning("the sync did nothing (\(run.error ?? "exit 2")); \(queue.depth) queued push(es) wait \(Int(schedule.retryDelay)) s")
            return
        }
        do {
            try queue.remove(snapshot)
        } catch {
            logger.error("cannot rewrite the queue file: \(error) (the pushes synced stay queued and are synced again)")
        }
    }
}
