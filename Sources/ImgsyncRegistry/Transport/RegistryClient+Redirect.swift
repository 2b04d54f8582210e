import AsyncHTTPClient
import Foundation
import ImgsyncCore
import NIOCore
import NIOHTTP1

extension RegistryClient {
    /// Sends `request` and follows redirects by hand (AsyncHTTPClient's own following is off):
    /// `Authorization` goes only to the registry's origin (R36, R37), https→http is refused before
    /// anything is sent (R38), at most `maxRedirects` hops are taken and targets are checked against
    /// the network policy (R39).
    /// Every request sent takes one from `gate`'s budget first.
    func followRedirects(_ request: RegistryRequest, authorization: String?, gate: RegistryGate) async throws -> RegistryResponse {
        guard var url = URL(string: request.url) else {
            throw TransportFailure(ImgsyncError(.invalidArgument, "bad request URL \(request.url.debugQuoted)"), retryable: false)
        }
        let registryURL = URL(string: baseURL(request.registry))!
        let registryOrigin = Origin(registryURL)
        var method = request.method
        var hops = 0
        while true {
            var outgoing = HTTPClientRequest(url: url.absoluteString)
            outgoing.method = method
            outgoing.headers = request.headers
            outgoing.headers.replaceOrAdd(name: "User-Agent", value: configuration.userAgent)
            if let authorization, Origin(url) == registryOrigin {
                outgoing.headers.replaceOrAdd(name: "Authorization", value: authorization)
            } else {
                outgoing.headers.remove(name: "Authorization")
                outgoing.headers.remove(name: "Cookie")
            }
            let response: HTTPClientResponse
            do {
                try gate.spend("\(method) \(request.label)")
            } catch let error as ImgsyncError {
                throw TransportFailure(error, retryable: false)
            }
            trafficLog.request(request.registry, method, request.subject.trafficKind)
            do {
                response = try await http.execute(outgoing, timeout: headTimeout)
            } catch {
                let hostPort = (url.host ?? "?") + (url.port.map { ":\($0)" } ?? "")
                throw TransportFailure(classify(error, what: "\(request.method) \(request.label) (\(hostPort))"),
                                       retryable: isRetryable(error))
            }
            let code = response.status.code
            guard [301, 302, 303, 307, 308].contains(code), let location = response.headers.first(name: "Location") else {
                return RegistryResponse(response: response, url: url)
            }
            _ = try? await response.body.collect(upTo: 64 << 10)
            hops += 1
            guard hops <= configuration.maxRedirects else {
                throw TransportFailure(ImgsyncError(.tooManyRedirects, "more than \(configuration.maxRedirects) redirects for \(request.label)"), retryable: false)
            }
            guard let target = URL(string: location, relativeTo: url)?.absoluteURL,
                  let scheme = target.scheme?.lowercased(), let host = target.host, !host.isEmpty else {
                throw TransportFailure(ImgsyncError(.server, "\(url.host ?? "?") sent an unusable redirect \(location.debugQuoted) for \(request.label)"), retryable: false)
            }
            switch scheme {
            case "https":
                break
            case "http":
                let targetName = host + (target.port.map { ":\($0)" } ?? "")
                guard url.scheme?.lowercased() == "http", configuration.insecureRegistries.contains(targetName) else {
                    throw TransportFailure(ImgsyncError(.insecureRedirect, "\(url.host ?? "?") redirected \(request.label) to plain http (\(host)); refused"), retryable: false)
                }
            default:
                throw TransportFailure(ImgsyncError(.insecureRedirect, "\(url.host ?? "?") redirected \(request.label) to a \(scheme): URL; refused"), retryable: false)
            }
            do {
                try configuration.networkPolicy.check(host: host, registryHost: registryURL.host ?? "", purpose: "a redirect for \(request.label)")
            } catch let error as ImgsyncError {
                throw TransportFailure(error, retryable: false)
            }
            if code == 303 && method != .HEAD { method = .GET }
            url = target
        }
    }

    /// How long to wait for a response head: connecting plus one read timeout.
    var headTimeout: TimeAmount {
        .nanoseconds(configuration.connectTimeout.totalNanoseconds + configuration.readTimeout.totalNanoseconds)
    }
}

/// A failure before any response arrived, and whether trying again may help.
struct TransportFailure: Error {
    var error: ImgsyncError
    var retryable: Bool
    init(_ error: ImgsyncError, retryable: Bool) {
        self.error = error
        self.retryable = retryable
    }
}
