/// What to authenticate to one registry with. Never logged: `description` hides the secrets.
public enum RegistryCredential: Sendable, Equatable, CustomStringConvertible {
    /// A user name and password (or personal access token): Basic auth, or the OAuth2 password grant.
    case basic(username: String, password: String)
    /// An OAuth2 refresh token (`identitytoken` in config.json): the refresh_token grant.
    case identityToken(String)
    /// A ready bearer token for the registry itself (`registrytoken`).
    case registryToken(String)

    public var description: String {
        switch self {
        case .basic(let username, _): return "user \(username) (password hidden)"
        case .identityToken: return "identity token (hidden)"
        case .registryToken: return "registry token (hidden)"
        }
    }
}

/// Where credentials come from; the client asks once per registry (host[:port]).
public protocol CredentialProvider: Sendable {
    /// The credential for exactly this registry (`127.0.0.1:5443`, `docker.io`), or nil for anonymous.
    func credential(for registry: String) async throws -> RegistryCredential?
}

/// No credentials: every registry is anonymous.
public struct AnonymousCredentials: CredentialProvider {
    public init() {}
    public func credential(for registry: String) async throws -> RegistryCredential? { nil }
}

/// Fixed credentials per registry, mostly for tests and programmatic use.
public struct StaticCredentials: CredentialProvider {
    public let byRegistry: [String: RegistryCredential]
    public init(_ byRegistry: [String: RegistryCredential]) { self.byRegistry = byRegistry }
    public func credential(for registry: String) async throws -> RegistryCredential? { byRegistry[registry] }
}
