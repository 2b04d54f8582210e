import Foundation
import ImgsyncRepository
import ImgsyncSync
import Logging
import NIOHTTP1

/// Who may post to `/webhook`.
public enum WebhookAccess: Sendable {
    /// `Authorization: Bearer <token>` with this token (`--webhook-token-file`).
    case token([UInt8])
    /// Anyone (`--insecure-webhook`).
    case open
    /// Nobody: no token is configured.
    case refused

    /// Whether the request's Authorization header carries the token (compared in constant time).
    func admits(_ headers: HTTPHeaders) -> Bool {
        switch self {
        case .open: return true
        case .refused: return false
        case .token(let token):
            let given = Array((headers.first(name: "authorization") ?? "").utf8)
            let expected = Array("Bearer ".utf8) + token
            var difference = UInt8(given.count == expected.count ? 0 : 1)
            for i in 0..<expected.count {
                difference |= expected[i] ^ (i < given.count ? given[i] : 0)
            }
            return difference == 0
        }
    }
}

/// The routes of `imgsync serve`: `POST /webhook`, `GET /healthz`, `GET /metrics`, `GET /status`.
public struct ServeEndpoints: Sendable {
    let scheduler: ServeScheduler
    let access: WebhookAccess
    let root: String
    /// Whether the repository lock could be taken now (asked only when no run of ours holds it).
    let lockObtainable: @Sendable () -> Bool
    let logger: Logger

    public init(scheduler: ServeScheduler, access: WebhookAccess, root: String, logger: Logger,
                lockObtainable: @escaping @Sendable () -> Bool) {
        self.scheduler = scheduler
        self.access = access
        self.root = root
        self.logger = logger
        self.lockObtainable = lockObtainable
    }

    public func handle(_ request: HTTPRequest) async -> HTTPReply {
        switch (request.method, request.path) {
        case (.POST, "/webhook"): return await webhook(request)
        case (.GET, "/healthz"): return await health()
        case (.GET, "/metrics"): return await metrics()
        case (.GET, "/status"): return await status()
        case (_, "/webhook"), (_, "/healthz"), (_, "/metrics"), (_, "/status"):
            return .text(.methodNotAllowed, "method not allowed")
        default:
            return .text(.notFound, "not found; the endpoints are POST /webhook, GET /healthz, /metrics, /status")
        }
    }

    func webhook(_ request: HTTPRequest) async -> HTTPReply {
        switch access {
        case .refused:
            return .text(.forbidden, "webhooks are refused: the service has no --webhook-token-file (or --insecure-webhook)")
        case .token where !access.admits(request.headers):
            return .text(.unauthorized, "a valid Authorization: Bearer token is required")
        default:
            break
        }
        let pushes: [RegistryPush]
        do {
            pushes = try WebhookPayload.pushes(from: request.body)
        } catch {
            logger.notice("webhook refused: \(error)")
            return .text(.badRequest, "\(error)")
        }
        do {
            let queued = try await scheduler.receive(pushes)
            let body = try JSONSerialization.data(withJSONObject: ["queued": queued.count, "ignored": pushes.count - queued.count],
                                                  options: [.sortedKeys])
            return HTTPReply(.accepted, contentType: "application/json", body: Array(body))
        } catch {
            logger.error("webhook: the queue could not be written: \(error)")
            return .text(.serviceUnavailable, "the queue could not be written; retry later")
        }
    }

    func health() async -> HTTPReply {
        guard let last = await scheduler.lastFull else {
            return .text(.serviceUnavailable, "no scheduled sync has finished yet")
        }
        guard last.status != 2 else {
            return .text(.serviceUnavailable, "the last scheduled sync did nothing: \(last.error ?? "exit 2")")
        }
        if await scheduler.running == nil && !lockObtainable() {
            return .text(.serviceUnavailable, "the repository lock is held by another process")
        }
        return .text(.ok, "ok")
    }

    func metrics() async -> HTTPReply {
        var text = ""
        let lastSuccess = await scheduler.lastSuccess
        if let last = await scheduler.lastRun {
            let previous = lastSuccess.map { "imgsync_last_success_timestamp_seconds \($0.timeIntervalSince1970)\n" }
            text = SyncMetrics(report: last.report, exitCode: last.status, finished: last.finished).text(previous: previous)
        }
        func gauge(_ name: String, _ help: String, _ samples: [(String, String)]) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            for (labels, value) in samples { text += name + labels + " " + value + "\n" }
        }
        gauge("imgsync_serve_queue_depth", "Pushes waiting for a sync (a queued full sync counts as one).",
              [("", "\(await scheduler.queueDepth)")])
        let since = lastSuccess.map { String(format: "%.3f", Date().timeIntervalSince($0)) } ?? "-1"
        gauge("imgsync_serve_seconds_since_last_success", "Seconds since the last sync that published ended; -1 if none yet.",
              [("", since)])
        let runs = await scheduler.runs
        gauge("imgsync_serve_runs", "Sync runs since the service started, by kind (full: the list; partial: after pushes).",
              ServeScheduler.RunKind.allCases.map { ("{kind=\"\($0.rawValue)\"}", "\(runs[$0] ?? 0)") })
        gauge("imgsync_serve_running", "1 while a sync runs.", [("", await scheduler.running == nil ? "0" : "1")])
        return HTTPReply(.ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(text.utf8))
    }

    func status() async -> HTTPReply {
        let state = (try? Repository.readState(root: root)) ?? nil
        let results = await scheduler.results
        var names: [String: Any] = [:]
        let time = ISO8601DateFormatter()
        for (name, record) in state?.names ?? [:] {
            var entry: [String: Any] = ["reference": record.reference, "digest": record.digest.description,
                                        "imageID": record.imageID.description, "platform": record.platform,
                                        "published": time.string(from: record.published), "checked": time.string(from: record.checked)]
            if let error = results[name]?.error { entry["lastError"] = error }
            names[name] = entry
        }
        for (name, result) in results where names[name] == nil {
            names[name] = ["reference": result.reference, "lastError": result.error ?? result.outcome.rawValue]
        }
        var body: [String: Any] = ["names": names, "queueDepth": await scheduler.queueDepth,
                                   "nextFullSync": time.string(from: await scheduler.nextFullSync)]
        if let running = await scheduler.running { body["running"] = running.rawValue }
        if let success = await scheduler.lastSuccess { body["lastSuccess"] = time.string(from: success) }
        if let last = await scheduler.lastRun {
            var run: [String: Any] = ["exitCode": Int(last.status), "finished": time.string(from: last.finished)]
            if let error = last.error { run["error"] = error }
            body["lastRun"] = run
        }
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .prettyPrinted])) ?? Data("{}".utf8)
        return HTTPReply(.ok, contentType: "application/json", body: Array(data) + [0x0A])
    }
}
