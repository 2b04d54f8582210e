import Foundation
import ImgsyncCore

/// Credentials from Docker's `config.json` or containers' `auth.json` (R10): `auths` entries with `auth`
/// (base64 `user:password`), `username`/`password`, `identitytoken` or `registrytoken`; `credHelpers` per
/// registry and a global `credsStore`, answered by running `docker-credential-<name> get`.
///
/// Entries are keyed by exact `host[:port]` after stripping a scheme and path, so credentials for
/// `127.0.0.1:5443` are never used for `127.0.0.1:5444`; `https://index.docker.io/v1/` means `docker.io`.
public struct DockerAuthFile: CredentialProvider {
    /// Runs a credential helper: program name (`docker-credential-ecr-login`) and the server URL to
    /// write to its stdin; returns its stdout. Injected so tests need no real helper.
    public typealias HelperRunner = @Sendable (_ program: String, _ serverURL: String) async throws -> [UInt8]

    public let path: String
    let auths: [String: RegistryCredential]
    let helpers: [String: String]
    let store: String?
    let runHelper: HelperRunner

    /// Parses the file's JSON. Bad JSON or bad base64 is `.credentials` naming the file.
    public init(path: String, contents: [UInt8], runHelper: @escaping HelperRunner = CredentialHelperProcess.run) throws {
        struct Entry: Decodable {
            var auth: String?
            var username: String?
            var password: String?
            var identitytoken: String?
            var registrytoken: String?
        }
        struct Wire: Decodable {
            var auths: [String: Entry]?
            var credHelpers: [String: String]?
            var credsStore: String?
        }
        let wire: Wire
        do {
            wire = try JSONDecoder().decode(Wire.self, from: Data(contents))
        } catch {
            throw ImgsyncError(.credentials, "cannot read credentials file \(path): not valid JSON (\(error))")
        }
        var auths: [String: RegistryCredential] = [:]
        for (key, entry) in wire.auths ?? [:] {
            let host = DockerAuthFile.normalisedKey(key)
            var credential: RegistryCredential?
            if let token = entry.identitytoken, !token.isEmpty {
                credential = .identityToken(token)
            } else if let token = entry.registrytoken, !token.isEmpty {
                credential = .registryToken(token)
            } else if let auth = entry.auth, !auth.isEmpty {
                guard let data = Data(base64Encoded: auth.trimmingCharacters(in: .whitespaces)),
                      let text = String(data: data, encoding: .utf8),
                      let colon = text.firstIndex(of: ":") else {
                    throw ImgsyncError(
                        .credentials,
                        "credentials file \(path): the \"auth\" value for \(key.debugQuoted) is not base64 of user:password"
                    )
                }
                credential = .basic(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
            } else if let user = entry.username, let password = entry.password, !user.isEmpty {
                credential = .basic(username: user, password: password)
            }
            // An exact key wins over a URL-form key that normalises to the same host.
            if let credential, auths[host] == nil || key == host { auths[host] = credential }
        }
        self.path = path
        self.auths = auths
        self.helpers = Dictionary((wire.credHelpers ?? [:]).map { (DockerAuthFile.normalisedKey($0.key), $0.value) },
                                  uniquingKeysWith: { a, _ in a })
        self.store = wire.credsStore.flatMap { $0.isEmpty ? nil : $0 }
        self.runHelper = runHelper
    }

    /// Finds and reads the auth file: `explicit` (`--auth-file`, must exist), else `REGISTRY_AUTH_FILE`
    /// (must exist), else `$DOCKER_CONFIG/config.json` or `~/.docker/config.json` when present.
    /// Returns nil when no file applies.
    public static func load(
        explicit: String?,
        environment: [String: String],
        runHelper: @escaping HelperRunner = CredentialHelperProcess.run
    ) throws -> DockerAuthFile? {
        var required: String?
        var optional: [String] = []
        if let explicit { required = explicit } else if let env = environment["REGISTRY_AUTH_FILE"], !env.isEmpty {
            required = env
        } else {
            if let dir = environment["DOCKER_CONFIG"], !dir.isEmpty { optional.append(dir + "/config.json") }
            if let home = environment["HOME"], !home.isEmpty { optional.append(home + "/.docker/config.json") }
        }
        if let required {
            guard let data = FileManager.default.contents(atPath: required) else {
                throw ImgsyncError(.credentials, "cannot read credentials file \(required)")
            }
            return try DockerAuthFile(path: required, contents: Array(data), runHelper: runHelper)
        }
        for candidate in optional {
            if let data = FileManager.default.contents(atPath: candidate) {
                return try DockerAuthFile(path: candidate, contents: Array(data), runHelper: runHelper)
            }
        }
        return nil
    }

    public func credential(for registry: String) async throws -> RegistryCredential? {
        if let helper = helpers[registry] {
            return try await fromHelper(helper, registry: registry)
        }
        if let credential = auths[registry] { return credential }
        if let store { return try await fromHelper(store, registry: registry) }
        return nil
    }

    /// `https://index.docker.io/v1/` → `docker.io`; `http://h:5000/x` → `h:5000`.
    static func normalisedKey(_ key: String) -> String {
        var s = Substring(key)
        for scheme in ["https://", "http://"] where s.lowercased().hasPrefix(scheme) {
            s = s.dropFirst(scheme.count)
        }
        if let slash = s.firstIndex(of: "/") { s = s[..<slash] }
        return ImageReference.canonicalRegistry(String(s))
    }

    private func fromHelper(_ name: String, registry: String) async throws -> RegistryCredential? {
        let program = "docker-credential-\(name)"
        let serverURL = registry == ImageReference.dockerHub ? "https://index.docker.io/v1/" : registry
        let output = try await runHelper(program, serverURL)
        struct Reply: Decodable { var Username: String?; var Secret: String? }
        guard let reply = try? JSONDecoder().decode(Reply.self, from: Data(output)), let secret = reply.Secret else {
            throw ImgsyncError(.credentials, "\(program) (from \(path)) gave no credentials for \(registry)")
        }
        if reply.Username == "<token>" { return .identityToken(secret) }
        return .basic(username: reply.Username ?? "", password: secret)
    }
}
