import AsyncHTTPClient
import Foundation
import ImgsyncCore
import NIOCore
import NIOHTTP1

extension RegistryClient {
    /// Exchanges a Bearer challenge for a token (token.md, oauth.md; R2, R3, R9, R13).
    /// - Anonymous: `GET realm?service=…&scope=…` with no Authorization.
    /// - Refresh token (config.json `identitytoken`, or one the server gave earlier): OAuth2 POST
    ///   `grant_type=refresh_token`.
    /// - User and password: OAuth2 POST `grant_type=password`; a 404 or 405 falls back to GET with Basic.
    func fetchToken(
        registry: String, challenge: AuthChallenge, scopes: [String],
        credential: RegistryCredential?, refreshToken: String?
    ) async throws -> BearerToken {
        let realm = try validatedRealm(challenge.realm ?? "", registry: registry)
        if realm.scheme?.lowercased() == "http", credential != nil || refreshToken != nil, !configuration.allowCredentialsOverHTTP {
            throw ImgsyncError(.auth, "\(registry) is configured insecure (http); refusing to send credentials to its token realm over http")
        }
        let service = challenge.service
        var form: [(String, String)] = []
        if let service { form.append(("service", service)) }
        for scope in scopes { form.append(("scope", scope)) }

        let refresh: String? = {
            if case .identityToken(let t) = credential { return t }
            return refreshToken
        }()
        if let refresh {
            let body = [("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", "imgsync")] + form
            let response = try await tokenRequest(realm, method: .POST, form: body, authorization: nil, registry: registry)
            return try await tokenResult(response, realm: realm, registry: registry, credentialed: true)
        }
        if case .basic(let user, let password) = credential {
            let body = [("grant_type", "password"), ("username", user), ("password", password),
                        ("client_id", "imgsync"), ("access_type", "offline")] + form
            let response = try await tokenRequest(realm, method: .POST, form: body, authorization: nil, registry: registry)
            if response.status == .notFound || response.status == .methodNotAllowed {
                // oauth.md: a server without OAuth2 answers 404 to POST; use the GET flow with Basic.
                _ = try? await response.body.collect(upTo: configuration.errorBodyLimit)
                let basic = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
                let get = try await tokenRequest(realm, method: .GET, form: form, authorization: basic, registry: registry)
                return try await tokenResult(get, realm: realm, registry: registry, credentialed: true)
            }
            return try await tokenResult(response, realm: realm, registry: registry, credentialed: true)
        }
        let response = try await tokenRequest(realm, method: .GET, form: form, authorization: nil, registry: registry)
        return try await tokenResult(response, realm: realm, registry: registry, credentialed: false)
    }

    /// The realm as an absolute https URL (relative realms resolve against the registry), on a host
    /// the network policy allows (R13). An http realm is refused unless the registry itself is insecure.
    func validatedRealm(_ realm: String, registry: String) throws -> URL {
        let base = URL(string: baseURL(registry) + "/v2/")!
        guard let url = URL(string: realm, relativeTo: base)?.absoluteURL, let host = url.host, !host.isEmpty,
              let scheme = url.scheme?.lowercased() else {
            throw ImgsyncError(.authChallenge, "\(registry) sent an unusable token realm \(realm.debugQuoted)")
        }
        let insecureAllowed = configuration.insecureRegistries.contains(registry) && base.host == host
        guard scheme == "https" || (scheme == "http" && insecureAllowed) else {
            throw ImgsyncError(.authChallenge, "\(registry) sent token realm \(realm.debugQuoted); refusing to send credentials or tokens over \(scheme)")
        }
        try configuration.networkPolicy.check(host: host, registryHost: base.host ?? "", purpose: "the token realm of \(registry)")
        return url
    }

    private func tokenRequest(
        _ realm: URL, method: HTTPMethod, form: [(String, String)], authorization: String?, registry: String
    ) async throws -> HTTPClientResponse {
        var request: HTTPClientRequest
        let encoded = form.map { "\(Self.formEncode($0.0))=\(Self.formEncode($0.1))" }.joined(separator: "&")
        if method == .GET {
            let separator = realm.query == nil ? "?" : "&"
            request = HTTPClientRequest(url: realm.absoluteString + (encoded.isEmpty ? "" : separator + encoded))
        } else {
            request = HTTPClientRequest(url: realm.absoluteString)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: encoded))
        }
        request.headers.add(name: "User-Agent", value: configuration.userAgent)
        request.headers.add(name: "Accept", value: "application/json")
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        // Token servers have bad moments too: connection failures, 5xx and 429 are retried with the
        // same backoff as registry requests (a token request changes nothing on the server).
        var attempt = 0
        while true {
            attempt += 1
            let response: HTTPClientResponse
            try gates.gate(registry).spend("a token request for \(registry)")
            trafficLog.request(registry, request.method, "token")
            do {
                response = try await http.execute(request, timeout: headTimeout)
            } catch {
                guard isRetryable(error), attempt < configuration.maxAttempts else {
                    throw classify(error, what: "token server \(realm.host ?? "?") for \(registry)")
                }
                try await configuration.sleep(configuration.backoff(attempt: attempt))
                continue
            }
            let code = response.status.code
            guard code == 429 || (500...599).contains(code), attempt < configuration.maxAttempts else { return response }
            _ = try? await collect(response, limit: configuration.errorBodyLimit, what: "token error body", truncate: true)
            let retryAfter = code == 429 || code == 503 ? HeaderParsing.retryAfter(response.headers.first(name: "Retry-After"), now: configuration.now()) : nil
            let wait = retryAfter.map { Duration.milliseconds(Int64(min($0, 60) * 1000)) } ?? configuration.backoff(attempt: attempt)
            try await configuration.sleep(wait)
        }
    }

    private func tokenResult(_ response: HTTPClientResponse, realm: URL, registry: String, credentialed: Bool) async throws -> BearerToken {
        let body = try await collect(response, limit: configuration.tokenLimit, what: "token response from \(realm.host ?? "?")")
        let where_ = "\(realm.scheme ?? "https")://\(realm.host ?? "?")\(realm.port.map { ":\($0)" } ?? "")\(realm.path)"
        guard response.status == .ok else {
            let detail = RegistryErrorBody.summary(body)
            if response.status == .unauthorized || response.status == .forbidden {
                throw ImgsyncError(.auth, "token server \(where_) refused \(credentialed ? "the credentials" : "anonymous access") for \(registry) (HTTP \(response.status.code))\(detail)")
            }
            throw ImgsyncError(.auth, "token server \(where_) for \(registry) answered HTTP \(response.status.code)\(detail)")
        }
        return try BearerToken.parse(body, now: configuration.now(), realm: where_)
    }

    /// `application/x-www-form-urlencoded` value encoding: only RFC 3986 unreserved ASCII stays as is.
    static func formEncode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? s
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
