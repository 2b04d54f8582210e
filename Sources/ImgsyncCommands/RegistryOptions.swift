import ArgumentParser
import Foundation
import ImgsyncCore
import ImgsyncRegistry
import Logging

/// Options every command that talks to registries takes: trust, credentials, insecure registries.
public struct RegistryOptions: ParsableArguments {
    @Option(help: "PEM file with extra CA certificates to trust (added to the system's; also SSL_CERT_FILE).")
    var caFile: String?

    @Option(help: "Credentials file in Docker config.json format (default: REGISTRY_AUTH_FILE, then ~/.docker/config.json).")
    var authFile: String?

    @Option(help: "A registry (host:port) that may be reached over plain http. Repeatable.")
    var insecureRegistry: [String] = []

    public init() {}

    /// Runs `body` with a client configured from these options; the client is shut down afterwards.
    func withClient<R>(
        logger: Logger, environment: [String: String] = ProcessInfo.processInfo.environment,
        _ body: (RegistryClient) async throws -> R
    ) async throws -> R {
        var config = RegistryClientConfiguration.standard(caFile: caFile, environment: environment)
        config.insecureRegistries = Set(insecureRegistry)
        let credentials: any CredentialProvider = try DockerAuthFile.load(explicit: authFile, environment: environment) ?? AnonymousCredentials()
        return try await RegistryClient.withClient(configuration: config, credentials: credentials, logger: logger, body)
    }
}

/// A logger writing plain lines to standard error at `level` (an unknown level means info).
func makeLogger(label: String, level: String) -> Logger {
    var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = Logger.Level(rawValue: level) ?? .info
    return logger
}
