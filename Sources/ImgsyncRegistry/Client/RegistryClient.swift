import AsyncHTTPClient
import Foundation
import ImgsyncCore
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// A client for OCI/Docker registries (distribution-spec v2) on one long-lived `HTTPClient`.
///
/// Use `withClient` so that the HTTP client is shut down on every path. All methods may be called
/// concurrently; per-registry state (ping result, challenge, tokens) is shared through actors.
public final class RegistryClient: Sendable {
    let http: HTTPClient
    public let configuration: RegistryClientConfiguration
    let credentials: any CredentialProvider
    let logger: Logger
    let sessions: SessionTable
    let warnings: WarningLog
    let trafficLog = TrafficLog()
    /// Verified manifests (by digest) and configs already fetched in this run.
    let contentCache = ContentCache()
    /// Per-registry concurrency and request budget (`RegistryLimits`).
    let gates: GateTable

    /// Creates a client. Call `shutdown()` when done, or use `withClient`.
    public init(
        configuration: RegistryClientConfiguration = RegistryClientConfiguration(),
        credentials: any CredentialProvider = AnonymousCredentials(),
        logger: Logger = Logger(label: "imgsync.registry")
    ) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .fullVerification
        tls.minimumTLSVersion = .tlsv12
        // A connection we abandon (idle-read timeout) must not hold shutdown for NIOSSL's default 5 s
        // while a stalled peer never answers close_notify.
        tls.shutdownTimeout = .seconds(1)
        // A CA file that cannot be used is a configuration error (exit 2), told in our words, not
        // the TLS library's.
        for file in configuration.caFiles {
            let fd = open(file, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw ImgsyncError(.config, "cannot read the CA file \(file): \(String(cString: strerror(errno))) (--ca-file or SSL_CERT_FILE)")
            }
            close(fd)
            let certificates = (try? NIOSSLCertificate.fromPEMFile(file)) ?? []
            guard !certificates.isEmpty else {
                throw ImgsyncError(.config, "the CA file \(file) holds no PEM certificate (--ca-file or SSL_CERT_FILE)")
            }
            tls.additionalTrustRoots.append(.certificates(certificates))
        }
        var http = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,  // followed by hand: auth scoping, https→http, SSRF (R36–R39)
            timeout: .init(
                connect: .nanoseconds(Int64(configuration.connectTimeout.totalNanoseconds)),
                read: .nanoseconds(Int64(configuration.readTimeout.totalNanoseconds))
            ),
            // A transport encoding is undone before hashing (R41); we still ask for identity.
            decompression: .enabled(limit: .ratio(1000))
        )
        // Fail fast on connection errors; retries and their backoff are ours (and TLS errors never retry).
        http.connectionPool.retryConnectionEstablishment = false
        http.httpVersion = .http1Only
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
        self.configuration = configuration
        self.credentials = credentials
        self.logger = logger
        self.sessions = SessionTable()
        self.gates = GateTable(configuration: configuration)
        self.warnings = WarningLog()
    }

    /// Shuts the HTTP client down; in-flight requests fail.
    public func shutdown() async throws {
        try await http.shutdown()
    }

    /// Runs `body` with a new client and shuts it down afterwards, whether `body` throws or not.
    public static func withClient<Result>(
        configuration: RegistryClientConfiguration = RegistryClientConfiguration(),
        credentials: any CredentialProvider = AnonymousCredentials(),
        logger: Logger = Logger(label: "imgsync.registry"),
        _ body: (RegistryClient) async throws -> Result
    ) async throws -> Result {
        let client = try RegistryClient(configuration: configuration, credentials: credentials, logger: logger)
        let result: Result
        do {
            result = try await body(client)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
        return result
    }

    /// `https://host/` (or `http://` for a registry configured insecure).
    func baseURL(_ registry: String) -> String {
        let host = registry == ImageReference.dockerHub ? "registry-1.docker.io" : registry
        let scheme = configuration.insecureRegistries.contains(registry) ? "http" : "https"
        return "\(scheme)://\(host)"
    }
}

extension Duration {
    var totalNanoseconds: Int64 {
        let c = components
        return c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000
    }
}

/// Warnings (`Warning: 299`) already logged, so that each is logged once per client (R52).
actor WarningLog {
    private var seen: Set<String> = []
    func firstTime(_ text: String) -> Bool { seen.insert(text).inserted }
}

/// One `AuthSession` per registry.
actor SessionTable {
    private var sessions: [String: AuthSession] = [:]
    func session(for registry: String) -> AuthSession {
        if let s = sessions[registry] { return s }
        let s = AuthSession(registry: registry)
        sessions[registry] = s
        return s
    }
}
