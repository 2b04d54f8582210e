import AsyncHTTPClient
import Foundation
import ImgsyncCore
import Logging
import NIOCore
import NIOHTTP1

/// A response whose body has not been read yet, and the URL it finally came from. It holds one of
/// the registry's places for requests in flight until `release()` (or until it is dropped): call it
/// once the body is read.
struct RegistryResponse {
    var response: HTTPClientResponse
    var url: URL
    var slot: RequestSlot?
    var status: UInt { response.status.code }
    var headers: HTTPHeaders { response.headers }

    /// Gives the registry's place for a request in flight back.
    func release() { slot?.release() }
}

extension RegistryClient {
    /// Sends a registry request: attaches auth (pinging and fetching tokens as needed), follows
    /// redirects safely, answers one 401 with a fresh token, waits out 429s, retries 5xx and connection
    /// failures with backoff (GET/HEAD only), and turns 404/403 and other failures into clear errors.
    /// Returns 2xx responses (and `passStatuses`) with the body unread, holding a place among the
    /// registry's requests in flight (`RegistryResponse.release()`).
    ///
    /// Politeness (`RegistryLimits`): each attempt waits for a place among the registry's requests in
    /// flight (tokens are fetched before, outside it), every request sent takes one from the run's
    /// budget, and a registry whose budget is spent or that answered `RateLimit-Remaining: 0` gets
    /// nothing more: `.budgetSpent` at once.
    func perform(_ request: RegistryRequest) async throws -> RegistryResponse {
        let gate = gates.gate(request.registry)
        try gate.checkOpen(request.label)
        let session = await sessions.session(for: request.registry)
        var scopes = request.scopes
        var authRetried = false
        var attempt = 0
        var rateLimitWaited = Duration.zero
        while true {
            try Task.checkCancellation()
            attempt += 1
            let authorization = request.authenticate
                ? try await session.authorization(scopes: scopes, client: self) : nil
            let slot = try await gate.acquire()
            var result: RegistryResponse
            do {
                result = try await followRedirects(request, authorization: authorization, gate: gate)
            } catch let failure as TransportFailure {
                slot.release()
                guard failure.retryable, request.isIdempotent, attempt < configuration.maxAttempts else {
                    guard attempt > 1 else { throw failure.error }
                    throw ImgsyncError(failure.error.code, "\(failure.error.message) (after \(attempt) attempts)")
                }
                let delay = configuration.backoff(attempt: attempt)
                logger.debug("retrying \(request.label) in \(delay) after \(failure.error.message)")
                try await configuration.sleep(delay)
                continue
            }
            let status = result.status
            await logWarnings(result.headers, source: request.label)
            let fromRegistry = Origin(result.url) == Origin(URL(string: baseURL(request.registry))!)
            let retryAfter = HeaderParsing.retryAfter(result.headers.first(name: "Retry-After"), now: configuration.now())
            if fromRegistry, retryAfter == nil, let remaining = HeaderParsing.rateLimitRemaining(result.headers), remaining.count == 0 {
                // No requests left and no word on when: asking again in this run would only be refused.
                gate.stopAsking(because: "the registry answered \(remaining.header) (to \(request.method) \(request.label))")
                logger.warning("\(request.registry) has no requests left (\(remaining.header)); not asking it again in this run")
            }
            if (200..<300).contains(status) || request.passStatuses.contains(status) {
                if request.method == .HEAD {
                    slot.release()
                } else {
                    result.slot = slot
                }
                return result
            }

            let body = (try? await collect(result.response, limit: configuration.errorBodyLimit, what: "error body", truncate: true)) ?? []
            slot.release()
            switch status {
            case 401:
                guard request.authenticate, fromRegistry else {
                    throw ImgsyncError(
                        .foreignAuth,
                        "\(result.url.host ?? "?") asked for authentication while serving \(request.label); imgsync never sends registry credentials or tokens to another host")
                }
                let challenge = try AuthChallenge.select(fromHeaders: result.headers["WWW-Authenticate"], registry: request.registry)
                if challenge.scheme == .basic, authorization == nil {
                    throw ImgsyncError(.auth, "\(request.registry) requires a user name and password (Basic auth) for \(request.label), and none are configured for \(request.registry); add them to the auth file")
                }
                if authRetried {
                    if let authorization, authorization.hasPrefix("Basic ") {
                        throw ImgsyncError(.auth, "\(request.registry) rejected the configured credentials for \(request.label)")
                    }
                    throw ImgsyncError(.auth, "pull access denied for \(request.label) (not authenticated, or the repository does not exist)")
                }
                if challenge.error == "insufficient_scope" {
                    for scope in challenge.scopes.compactMap(TokenScope.init(parsing:)) where !scopes.contains(scope) {
                        scopes.append(scope)
                    }
                }
                authRetried = true
                attempt -= 1
                await session.unauthorized(challenge: challenge, staleAuthorization: authorization)
                continue
            case 429:
                let wait = retryAfter.map(Self.waitDuration) ?? configuration.backoff(attempt: attempt)
                if attempt >= configuration.maxAttempts || rateLimitWaited + wait > configuration.maxRateLimitWait || gate.stopped != nil {
                    let limits = ["ratelimit-limit", "ratelimit-remaining", "ratelimit", "retry-after"].compactMap { name in
                        result.headers.first(name: name).map { "\(name): \($0)" }
                    }.joined(separator: ", ")
                    // It will not serve us within the wait we allow: leave it alone for this run.
                    gate.stopAsking(because: "the registry kept answering HTTP 429 (rate-limited)\(limits.isEmpty ? "" : " with \(limits)")")
                    throw ImgsyncError(.rateLimited, "\(request.registry) rate-limited \(request.label) (HTTP 429 after \(attempt) tries\(limits.isEmpty ? "" : "; \(limits)"))\(RegistryErrorBody.summary(body))")
                }
                logger.info("\(request.registry) rate-limited \(request.label); waiting \(wait)")
                rateLimitWaited += wait
                try await configuration.sleep(wait)
                continue
            case 500...599:
                guard request.isIdempotent, attempt < configuration.maxAttempts else {
                    throw ImgsyncError(.server, "\(result.url.host ?? request.registry) answered HTTP \(status) for \(request.label) after \(attempt) tries\(RegistryErrorBody.summary(body))")
                }
                var delay = configuration.backoff(attempt: attempt)
                if status == 503, let retryAfter {
                    // R43: a 503's Retry-After is honoured like a 429's, within the same cap.
                    delay = Self.waitDuration(retryAfter)
                    guard rateLimitWaited + delay <= configuration.maxRateLimitWait else {
                        throw ImgsyncError(.server, "\(result.url.host ?? request.registry) answered HTTP 503 for \(request.label) with Retry-After \(Int(retryAfter)) s, longer than imgsync waits (\(configuration.maxRateLimitWait) in all)\(RegistryErrorBody.summary(body))")
                    }
                    rateLimitWaited += delay
                }
                logger.debug("HTTP \(status) for \(request.label); retrying in \(delay)")
                try await configuration.sleep(delay)
                continue
            default:
                throw failure(status: status, body: body, request: request, host: fromRegistry ? nil : result.url.host)
            }
        }
    }

    /// A `Retry-After` in seconds as a wait, rounded up to the millisecond (huge values are capped
    /// far beyond any wait cap, so the arithmetic cannot overflow).
    static func waitDuration(_ seconds: TimeInterval) -> Duration {
        .milliseconds(Int64((min(max(seconds, 0), 1e9) * 1000).rounded(.up)))
    }

    /// The error for a final non-2xx status: 404 and 403 name what was missing or denied (R45, R46).
    private func failure(status: UInt, body: [UInt8], request: RegistryRequest, host: String?) -> ImgsyncError {
        let codes = RegistryErrorBody.codes(body)
        let summary = RegistryErrorBody.summary(body)
        if let host {
            return ImgsyncError(status == 404 ? .notFound : status == 403 ? .denied : .server,
                                "\(host) (redirected to from \(request.registry)) answered HTTP \(status) for \(request.label)\(summary)")
        }
        switch status {
        case 404:
            if codes.contains("NAME_UNKNOWN") {
                return ImgsyncError(.notFound, "repository not found: \(request.registry)/\(repositoryName(request)) (NAME_UNKNOWN)")
            }
            switch request.subject {
            case .manifest: return ImgsyncError(.notFound, "manifest unknown: \(request.label)")
            case .blob: return ImgsyncError(.notFound, "blob unknown: \(request.label)")
            case .tags: return ImgsyncError(.notFound, "repository not found: \(request.label)")
            case .ping: return ImgsyncError(.notARegistry, "not an OCI/Docker v2 registry: \(request.registry)")
            }
        case 403:
            return ImgsyncError(.denied, "access denied to \(request.label) (HTTP 403)\(summary)")
        default:
            return ImgsyncError(.server, "\(request.registry) answered HTTP \(status) for \(request.label)\(summary)")
        }
    }

    private func repositoryName(_ request: RegistryRequest) -> String {
        switch request.subject {
        case .manifest(let ref): return ref.repository
        case .blob(let repository, _), .tags(let repository): return repository
        case .ping: return ""
        }
    }

    /// Logs each distinct `Warning: 299` text once per client (R52); other warnings are ignored.
    func logWarnings(_ headers: HTTPHeaders, source: String) async {
        for value in headers["Warning"] {
            guard let text = HeaderParsing.warning(value) else { continue }
            if await warnings.firstTime(text) {
                logger.warning("registry warning for \(source): \(text)")
            }
        }
    }

    /// Reads a whole (small) body, refusing more than `limit` bytes (R51). With `truncate`, the first
    /// `limit` bytes are returned instead of an error.
    func collect(_ response: HTTPClientResponse, limit: Int, what: String, truncate: Bool = false) async throws -> [UInt8] {
        if !truncate, let length = response.headers.first(name: "Content-Length").flatMap(Int.init), length > limit {
            throw ImgsyncError(.limit, "\(what) is \(length) bytes, more than the limit of \(limit)")
        }
        var out: [UInt8] = []
        do {
            for try await chunk in response.body {
                let room = limit - out.count
                if chunk.readableBytes > room {
                    if truncate {
                        out += chunk.readableBytesView.prefix(room)
                        return out
                    }
                    throw ImgsyncError(.limit, "\(what) is larger than the limit of \(limit) bytes")
                }
                out += chunk.readableBytesView
            }
        } catch let error as ImgsyncError {
            throw error
        } catch {
            throw classify(error, what: what)
        }
        return out
    }
}

/// scheme, host and port: Authorization is only ever sent back to the registry's own origin (R36, R37).
struct Origin: Equatable {
    var scheme: String
    var host: String
    var port: Int

    init(_ url: URL) {
        scheme = url.scheme?.lowercased() ?? ""
        host = url.host?.lowercased() ?? ""
        port = url.port ?? (scheme == "http" ? 80 : 443)
    }
}
