import ImgsyncCore

/// How much one client may ask of one registry (politeness, issue 9 item 5): requests in flight at
/// once, and requests in all during one run.
public struct RegistryLimits: Sendable, Equatable {
    /// Requests to the registry in flight at the same time. A blob download holds its place until
    /// its body is read (or given up).
    public var concurrency: Int
    /// Requests sent to the registry in one run (every kind, as `RegistryTraffic` counts them:
    /// retries, redirect hops, resumed downloads and token requests included); nil: no budget.
    public var requestBudget: Int?

    public init(concurrency: Int = 4, requestBudget: Int? = nil) {
        self.concurrency = concurrency
        self.requestBudget = requestBudget
    }

    /// Default concurrency per registry (`--registry-concurrency`).
    public static let defaultConcurrency = 4

    /// The canonical registry name for a host given on the command line: Docker Hub's API host and
    /// its old index name are `docker.io`, as in references; other names are lowercased.
    public static func canonicalRegistry(_ host: String) -> String {
        let lower = host.lowercased()
        return ["registry-1.docker.io", "index.docker.io", "registry.hub.docker.com"].contains(lower) ? ImageReference.dockerHub : lower
    }

    /// One `--registry-limit` value: `HOST=concurrency:N,requests:M` (either key may be left out and
    /// then keeps `defaults`; `requests:0` means no budget). Returns the canonical registry and its limits.
    public static func parseOverride(_ text: String, defaults: RegistryLimits) throws -> (registry: String, limits: RegistryLimits) {
        func bad(_ why: String) -> ImgsyncError {
            ImgsyncError(.invalidArgument, "--registry-limit \(text.debugQuoted): \(why) (expected HOST=concurrency:N,requests:M)")
        }
        guard let equals = text.firstIndex(of: "=") else { throw bad("no '='") }
        let host = text[..<equals].trimmingCharacters(in: .whitespaces)
        guard !host.isEmpty, !host.contains("/"), !host.contains(where: \.isWhitespace) else { throw bad("no registry host before '='") }
        var limits = defaults
        let settings = text[text.index(after: equals)...].split(separator: ",", omittingEmptySubsequences: false)
        guard !settings.isEmpty, settings != [""] else { throw bad("nothing after '='") }
        for setting in settings {
            let parts = setting.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let value = Int(parts[1]), value >= 0 else { throw bad("\(String(setting).debugQuoted) is not key:number") }
            switch parts[0] {
            case "concurrency":
                guard value >= 1 else { throw bad("concurrency must be at least 1") }
                limits.concurrency = value
            case "requests":
                limits.requestBudget = value == 0 ? nil : value
            default:
                throw bad("unknown key \(parts[0].debugQuoted)")
            }
        }
        return (canonicalRegistry(host), limits)
    }
}

extension RegistryClientConfiguration {
    /// The limits for `registry` (a canonical name, e.g. `docker.io` or `127.0.0.1:5443`).
    public func limits(for registry: String) -> RegistryLimits {
        registryLimits[registry] ?? registryLimits[registry.lowercased()] ?? defaultLimits
    }
}
