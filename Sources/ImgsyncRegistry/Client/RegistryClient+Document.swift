import AsyncHTTPClient
import Foundation
import ImgsyncCore
import NIOHTTP1

extension RegistryClient {
    /// GETs a small document (the image list) from an `https://` URL with this client's TLS trust,
    /// timeouts, redirect rules (https only, network policy, at most `maxRedirects`) and retries
    /// (connection failures, 5xx and 429, with backoff). Never sends registry credentials.
    /// A body over `limit` bytes (default 4 MiB) is an error, as is any status but 200.
    public func fetchDocument(url: String, limit: Int = 4 << 20) async throws -> [UInt8] {
        guard let parsed = URL(string: url), let host = parsed.host, !host.isEmpty else {
            throw ImgsyncError(.invalidArgument, "\(url.debugQuoted) is not a URL")
        }
        guard parsed.scheme?.lowercased() == "https" else {
            throw ImgsyncError(.invalidArgument, "\(url.debugQuoted): only https:// URLs are accepted")
        }
        let origin = host.contains(":") ? "[\(host)]" : host  // an IPv6 literal keeps its brackets
        var request = RegistryRequest(method: .GET, registry: origin + (parsed.port.map { ":\($0)" } ?? ""),
                                      url: url, subject: .ping)
        request.authenticate = false
        request.headers.add(name: "Accept", value: "text/plain, */*;q=0.5")
        var attempt = 0
        while true {
            attempt += 1
            let response: RegistryResponse
            do {
                response = try await followRedirects(request, authorization: nil, gate: gates.gate(request.registry))
            } catch let failure as TransportFailure {
                guard failure.retryable, attempt < configuration.maxAttempts else {
                    throw ImgsyncError(failure.error.code, "GET \(url): \(failure.error.message)" + (attempt > 1 ? " (after \(attempt) attempts)" : ""))
                }
                try await configuration.sleep(configuration.backoff(attempt: attempt))
                continue
            }
            let status = response.status
            if status == 200 {
                return try await collect(response.response, limit: limit, what: "\(url)")
            }
            _ = try? await collect(response.response, limit: configuration.errorBodyLimit, what: "error body", truncate: true)
            if (status == 429 || (500...599).contains(status)) && attempt < configuration.maxAttempts {
                try await configuration.sleep(configuration.backoff(attempt: attempt))
                continue
            }
            let code: ImgsyncError.Code = status == 404 ? .notFound : status == 401 || status == 403 ? .denied : .server
            throw ImgsyncError(code, "GET \(response.url.absoluteString) answered HTTP \(status)")
        }
    }
}
