import Foundation
import ImgsyncCore

/// The authentication state of one registry: the `/v2/` ping result, the current challenge, the
/// credential, and the bearer tokens per scope set. Token fetches for one scope set are shared, so
/// concurrent requests cause one exchange (R2); an invalidated token is replaced once (R5).
actor AuthSession {
    let registry: String
    private var pingTask: Task<AuthChallenge?, any Error>?
    private(set) var challenge: AuthChallenge?
    private var credentialTask: Task<RegistryCredential?, any Error>?
    private var tokens: [String: BearerToken] = [:]
    private var inflight: [String: Task<BearerToken, any Error>] = [:]
    private var refreshToken: String?

    init(registry: String) { self.registry = registry }

    /// Pings `/v2/` once (R1). A failed ping is not remembered, so a later request tries again.
    func ensurePinged(_ client: RegistryClient) async throws {
        let task: Task<AuthChallenge?, any Error>
        if let pingTask {
            task = pingTask
        } else {
            let registry = self.registry
            task = Task { try await client.ping(registry) }
            pingTask = task
        }
        do {
            let found = try await task.value
            if challenge == nil { challenge = found }
        } catch {
            pingTask = nil
            throw error
        }
    }

    func credential(_ client: RegistryClient) async throws -> RegistryCredential? {
        if credentialTask == nil {
            let registry = self.registry
            credentialTask = Task { try await client.credentials.credential(for: registry) }
        }
        return try await credentialTask!.value
    }

    /// The `Authorization` value for a request needing `scopes`, or nil to go anonymous.
    func authorization(scopes: [TokenScope], client: RegistryClient) async throws -> String? {
        try await ensurePinged(client)
        guard let challenge else { return nil }
        let credential = try await credential(client)
        switch challenge.scheme {
        case .basic:
            switch credential {
            case .basic(let user, let password):
                if client.configuration.insecureRegistries.contains(registry) && !client.configuration.allowCredentialsOverHTTP {
                    throw ImgsyncError(.auth, "\(registry) is configured insecure (http); refusing to send Basic credentials over http")
                }
                return "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
            case .registryToken(let token):
                return "Bearer \(token)"
            case .identityToken, nil:
                return nil
            }
        case .bearer:
            if case .registryToken(let token) = credential { return "Bearer \(token)" }
            return "Bearer " + (try await token(challenge: challenge, scopes: scopes, client: client)).token
        }
    }

    /// Records a 401 challenge and drops `staleAuthorization`'s token, so the next `authorization`
    /// call fetches a new one (or reuses one another request already fetched).
    func unauthorized(challenge new: AuthChallenge, staleAuthorization: String?) {
        challenge = new
        if let stale = staleAuthorization, stale.hasPrefix("Bearer ") {
            let value = String(stale.dropFirst(7))
            tokens = tokens.filter { $0.value.token != value }
        }
    }

    private func token(challenge: AuthChallenge, scopes: [TokenScope], client: RegistryClient) async throws -> BearerToken {
        let names = Set(scopes.map(\.description)).sorted()
        let key = ([challenge.realm ?? "", challenge.service ?? ""] + names).joined(separator: "\n")
        if let cached = tokens[key], !cached.isExpired(at: client.configuration.now()) { return cached }
        if let running = inflight[key] { return try await running.value }
        let credential = try await credential(client)
        let refresh = refreshToken
        let registry = self.registry
        let task = Task {
            try await client.fetchToken(
                registry: registry, challenge: challenge, scopes: names, credential: credential, refreshToken: refresh)
        }
        inflight[key] = task
        do {
            let token = try await task.value
            inflight[key] = nil
            tokens[key] = token
            if let r = token.refreshToken { refreshToken = r }
            return token
        } catch {
            inflight[key] = nil
            throw error
        }
    }
}
