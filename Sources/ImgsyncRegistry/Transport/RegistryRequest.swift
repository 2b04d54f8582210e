import NIOHTTP1

/// One registry API request as the transport sees it.
struct RegistryRequest: Sendable {
    enum Subject: Sendable {
        case ping
        case manifest(ImageReference)
        case blob(repository: String, digest: String)
        case tags(repository: String)
    }

    var method: HTTPMethod
    /// Canonical registry name (`127.0.0.1:5443`): auth session, credentials and `Authorization` scope.
    var registry: String
    /// Absolute URL; starts on the registry, may be moved by redirects.
    var url: String
    var headers: HTTPHeaders = [:]
    /// Token scopes this request needs (`repository:lib/a:pull`).
    var scopes: [TokenScope] = []
    var subject: Subject
    /// Whether to attach registry credentials (false for the ping and for foreign URLs).
    var authenticate = true
    /// Statuses handed back to the caller instead of being turned into errors (besides 2xx).
    var passStatuses: Set<UInt> = []

    /// How errors name what was asked for: `127.0.0.1:5443/lib/a:1`.
    var label: String {
        switch subject {
        case .ping: return registry
        case .manifest(let ref): return "\(ref.registry)/\(ref.repository)\(ref.digest.map { "@\($0)" } ?? ":\(ref.tag ?? "latest")")"
        case .blob(let repository, let digest): return "\(registry)/\(repository)@\(digest)"
        case .tags(let repository): return "\(registry)/\(repository)"
        }
    }

    var isIdempotent: Bool { method == .GET || method == .HEAD }
}
