import Foundation
import ImgsyncCore
import ImgsyncRegistry

/// One manifest a registry says was pushed: `registry/repository` under a tag, or by digest only.
/// Built only from validated parts (`ImageReference`'s grammar), so a queued push is always a
/// well-formed reference.
public struct RegistryPush: Codable, Hashable, Sendable, CustomStringConvertible {
    /// The canonical registry name (`ImageReference.registry`): `harbor.example.org`, `127.0.0.1:5000`.
    public let registry: String
    public let repository: String
    public let tag: String?
    /// `sha256:…`, when the event names the manifest digest.
    public let digest: String?

    /// Validates and normalises the parts (the host as `ImageReference` canonicalises it, a
    /// default `:443` dropped); throws `WebhookError` naming what is wrong.
    public init(host: String, repository: String, tag: String?, digest: String?) throws {
        var host = host.lowercased()
        // Only a host with exactly that one port loses it: `reg:443:443` stays as it is (and the
        // reference grammar refuses it), so normalising twice changes nothing (found by fuzzing:
        // the queue file read `reg:443:443` back as `reg`).
        if host.hasSuffix(":443") {
            let rest = host.dropLast(4)
            if !rest.contains(":") || rest.hasSuffix("]") { host = String(rest) }
        }
        if host == "index.docker.io" || host == "registry-1.docker.io" { host = ImageReference.dockerHub }
        let parsedDigest: Digest?
        do {
            parsedDigest = try digest.map { try Digest(parsing: $0) }
        } catch {
            throw WebhookError("invalid digest in the event for \(host)/\(repository)")
        }
        let reference: ImageReference
        do {
            reference = try ImageReference(registry: host, repository: repository, tag: tag, digest: parsedDigest)
        } catch let error as ImgsyncError {
            throw WebhookError(error.message)
        }
        guard tag != nil || parsedDigest != nil else {
            throw WebhookError("a push of \(reference.name) names neither a tag nor a digest")
        }
        self.registry = reference.registry
        self.repository = reference.repository
        self.tag = tag
        self.digest = parsedDigest?.description
    }

    public var description: String {
        "\(registry)/\(repository)" + (tag.map { ":\($0)" } ?? "") + (digest.map { "@\($0)" } ?? "")
    }

    /// Decoding re-validates: the queue file is read back from disk.
    public init(from decoder: any Decoder) throws {
        enum Keys: String, CodingKey { case registry, repository, tag, digest }
        let c = try decoder.container(keyedBy: Keys.self)
        try self.init(host: try c.decode(String.self, forKey: .registry), repository: try c.decode(String.self, forKey: .repository),
                      tag: try c.decodeIfPresent(String.self, forKey: .tag), digest: try c.decodeIfPresent(String.self, forKey: .digest))
    }
}

/// A webhook body that is not a valid notification (HTTP 400; nothing is queued).
public struct WebhookError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
