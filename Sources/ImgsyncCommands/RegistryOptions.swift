import ArgumentParser
import Foundation
import ImgsyncCore
import ImgsyncRegistry
import ImgsyncSync
import Logging

/// The options every command that talks to registries takes (`--ca-file`, `--auth-file`,
/// `--insecure-registry`), and the client they configure.
public struct RegistryOptions: ParsableArguments, Sendable {
    @Option(help: "PEM file with extra CA certificates to trust (added to the system's; also SSL_CERT_FILE).")
    var caFile: String?

    @Option(help: "Credentials file in Docker config.json format (default: REGISTRY_AUTH_FILE, then ~/.docker/config.json).")
    var authFile: String?

    @Option(help: "A registry (host:port) that may be reached over plain http. Repeatable.")
    var insecureRegistry: [String] = []

    @Option(help: ArgumentHelp("A host a registry may redirect to (or name in a token realm or foreign layer URL) although its address is loopback, private or link-local. Repeatable.",
                               discussion: "Such targets are refused by default unless they are the registry's own host."))
    var allowHost: [String] = []

    @Option(help: ArgumentHelp("Slowest average download speed of a layer, e.g. 20k (bytes per second; 0: no minimum).",
                               discussion: "Checked after the first minute of each download; a slower layer fails its image, the run goes on."))
    var minBlobSpeed = "20k"

    @Option(help: ArgumentHelp("Requests in flight to one registry at the same time (a layer download holds its place until its body is read).",
                               discussion: "Per registry host; --registry-limit overrides it for one host."))
    var registryConcurrency = RegistryLimits.defaultConcurrency

    @Option(help: ArgumentHelp("Requests one run may send to one registry (0: no budget).",
                               discussion: "Every request counts (HEAD and GET of manifests, blobs, tokens, retries, redirects). Once spent, the registry is not asked again in the run: the images that still needed it fail and keep their published trees, and the summary says so."))
    var requestBudget = 0

    @Option(help: ArgumentHelp("Limits for one registry: HOST=concurrency:N,requests:M (either key may be left out; requests:0 means no budget). Repeatable.",
                               discussion: "HOST as in image references (docker.io for Docker Hub, host:port for others); it overrides --registry-concurrency and --request-budget for that registry."))
    var registryLimit: [String] = []

    public init() {}

    public func validate() throws {
        do { _ = try ByteCount.parse(minBlobSpeed) } catch let e as ImgsyncError { throw ValidationError("--min-blob-speed: \(e.message)") }
        guard registryConcurrency >= 1 else { throw ValidationError("--registry-concurrency must be at least 1") }
        guard requestBudget >= 0 else { throw ValidationError("--request-budget must be 0 (no budget) or more") }
        do { _ = try limits() } catch let e as ImgsyncError { throw ValidationError(e.message) }
    }

    /// The default limits and the per-registry overrides these options give.
    func limits() throws -> (defaults: RegistryLimits, overrides: [String: RegistryLimits]) {
        let defaults = RegistryLimits(concurrency: registryConcurrency, requestBudget: requestBudget == 0 ? nil : requestBudget)
        var overrides: [String: RegistryLimits] = [:]
        for text in registryLimit {
            let (registry, limits) = try RegistryLimits.parseOverride(text, defaults: overrides[RegistryLimits.canonicalRegistry(String(text.prefix { $0 != "=" }))] ?? defaults)
            overrides[registry] = limits
        }
        return (defaults, overrides)
    }

    /// Runs `body` with a client configured from these options and `environment` (SSL_CERT_FILE,
    /// REGISTRY_AUTH_FILE, HOME), logging through `logger`; shuts the client down afterwards.
    func withClient<Result>(
        logger: Logger, environment: [String: String] = ProcessInfo.processInfo.environment,
        _ body: (RegistryClient) async throws -> Result
    ) async throws -> Result {
        var config = RegistryClientConfiguration.standard(caFile: caFile, environment: environment)
        config.insecureRegistries = Set(insecureRegistry)
        config.minimumBlobSpeed = try ByteCount.parse(minBlobSpeed)
        config.networkPolicy.allowedHosts.formUnion(allowHost.map { $0.lowercased() })
        (config.defaultLimits, config.registryLimits) = try limits()
        let credentials: any CredentialProvider = try DockerAuthFile.load(explicit: authFile, environment: environment) ?? AnonymousCredentials()
        return try await RegistryClient.withClient(configuration: config, credentials: credentials, logger: logger, body)
    }

    /// The same, logging warnings and errors to stderr under `label`.
    func withClient<Result>(
        environment: [String: String], label: String, _ body: (RegistryClient) async throws -> Result
    ) async throws -> Result {
        try await withClient(logger: makeLogger(label: label, level: "warning"), environment: environment, body)
    }
}

/// A logger writing plain lines to standard error at `level` (an unknown level means info), through
/// the writer the sync's progress display uses, so that on a terminal each line appears whole above
/// the status area.
func makeLogger(label: String, level: String, terminal: TerminalWriter = .standardError) -> Logger {
    var logger = Logger(label: label) { StreamLogHandler(label: $0, stream: terminal.logStream) }
    logger.logLevel = Logger.Level(rawValue: level) ?? .info
    return logger
}
