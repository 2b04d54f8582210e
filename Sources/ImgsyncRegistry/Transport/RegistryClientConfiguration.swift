import ImgsyncCore
import Foundation

/// How the registry client connects, retries and what it trusts. The defaults are safe for public
/// registries; tests shorten the timeouts and inject `sleep`, `now` and `jitter`.
public struct RegistryClientConfiguration: Sendable {
    /// Extra PEM trust roots (`--ca-file`), added to the system roots. TLS is always verified.
    public var caFiles: [String] = []
    /// Registries (`host:port` as in references) that may be reached over plain http. Nothing else is.
    public var insecureRegistries: Set<String> = []
    /// Whether Basic credentials may be sent to an insecure (http) registry (R56).
    public var allowCredentialsOverHTTP = false
    /// Which hosts redirects, realms and links may point to (R13, R39).
    public var networkPolicy = NetworkPolicy()

    /// Time allowed to establish a connection (TCP and TLS).
    public var connectTimeout: Duration = .seconds(20)
    /// Time a response may stay silent (headers or body) before the request is given up or resumed.
    /// AsyncHTTPClient counts it from the last bytes read, so a consumer that pauses longer than this
    /// between chunks also triggers it; a blob then resumes with `Range`, which is safe but refetches.
    public var readTimeout: Duration = .seconds(60)

    /// Attempts per request for 5xx, 429 and connection failures (GET/HEAD only).
    public var maxAttempts = 5
    /// First backoff delay; doubled per attempt, capped by `maxRetryDelay`, with jitter.
    public var retryBaseDelay: Duration = .milliseconds(500)
    public var maxRetryDelay: Duration = .seconds(30)
    /// Cap on the total time spent waiting for `Retry-After` on one request (R43).
    public var maxRateLimitWait: Duration = .seconds(600)
    /// Limits per registry (politeness): `defaultLimits` for every registry not in `registryLimits`
    /// (keyed by canonical name, `docker.io` for Docker Hub). See `RegistryLimits`.
    public var defaultLimits = RegistryLimits()
    public var registryLimits: [String: RegistryLimits] = [:]
    /// Redirects followed per request (R39).
    public var maxRedirects = 10
    /// Reconnects while a blob makes progress (R33).
    public var maxResumes = 5
    /// The slowest average a blob download may have, in bytes per second, once it has run for
    /// `blobSpeedGrace` (0: no minimum). A server that trickles (never idle for `readTimeout`,
    /// never done) would otherwise hold a run forever; the image fails, the run goes on.
    public var minimumBlobSpeed: Int64 = 20_000
    public var blobSpeedGrace: Duration = .seconds(60)

    /// Body size limits (R51).
    public var manifestLimit = 4 << 20
    public var configLimit = 4 << 20
    public var tokenLimit = 1 << 20
    public var errorBodyLimit = 1 << 20

    public var userAgent = "imgsync/" + ImgsyncVersion.current

    /// Seams for tests: how the client waits, reads the clock and draws jitter (0...1).
    public var sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    public var now: @Sendable () -> Date = { Date() }
    public var jitter: @Sendable () -> Double = { Double.random(in: 0...1) }

    public init() {}

    /// A configuration with `--ca-file` (if given) and `SSL_CERT_FILE` (if set) as extra trust roots.
    public static func standard(caFile: String?, environment: [String: String]) -> RegistryClientConfiguration {
        var config = RegistryClientConfiguration()
        if let caFile { config.caFiles.append(caFile) }
        if let env = environment["SSL_CERT_FILE"], !env.isEmpty, env != caFile { config.caFiles.append(env) }
        return config
    }

    /// The wait before retry number `attempt` (1-based): base·2^(attempt−1), capped, with "equal
    /// jitter" (half fixed, half random) so that clients spread out but never retry at once.
    func backoff(attempt: Int) -> Duration {
        let base = Double(retryBaseDelay.components.seconds) + Double(retryBaseDelay.components.attoseconds) / 1e18
        let cap = Double(maxRetryDelay.components.seconds) + Double(maxRetryDelay.components.attoseconds) / 1e18
        let raw = min(cap, base * pow(2, Double(max(0, attempt - 1))))
        let seconds = raw / 2 + raw / 2 * min(1, max(0, jitter()))
        return .milliseconds(Int64(seconds * 1000))
    }
}
