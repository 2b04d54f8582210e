import ImgsyncCore

/// A normalised Docker/OCI image reference: `registry/repository[:tag][@digest]`.
///
/// Parsing follows the distribution reference grammar with Docker's normalisation (R29): no registry
/// means `docker.io` (API host `registry-1.docker.io`), single-component Hub names get `library/`, the
/// first component is a registry only when it contains `.` or `:` or is `localhost`, and a reference
/// without tag or digest means `:latest`.
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
    /// The canonical registry name: `docker.io`, `ghcr.io`, `127.0.0.1:5443`, `localhost:5000`.
    public let registry: String
    /// The repository path inside the registry: `library/ubuntu`, `ml4gw/hermes/tritonserver`.
    public let repository: String
    /// The tag, if any. `nil` only for digest-only references (`name@sha256:…`).
    public let tag: String?
    /// The manifest digest, if the reference pins one.
    public let digest: Digest?

    /// Docker Hub's canonical registry name.
    public static let dockerHub = "docker.io"

    public init(registry: String, repository: String, tag: String? = nil, digest: Digest? = nil) throws {
        let registry = ImageReference.canonicalRegistry(registry)
        // One string for the messages (and the name's length), not one interpolation per check.
        let context = registry + "/" + repository
        try ImageReference.validateRegistry(registry, in: context)
        try ImageReference.validateRepository(repository, in: context)
        if let tag { try TagName.validate(tag, context: context) }
        self.registry = registry
        self.repository = repository
        self.tag = (tag == nil && digest == nil) ? "latest" : tag
        self.digest = digest
    }

    /// The host (and port) that the registry API is served from.
    public var apiHost: String {
        registry == ImageReference.dockerHub ? "registry-1.docker.io" : registry
    }

    /// What to put after `/manifests/`: the digest when pinned (it wins over the tag), else the tag.
    public var manifestReference: String {
        if let digest { return digest.description }
        return tag ?? "latest"
    }

    /// `registry/repository:tag@digest`, fully qualified.
    public var description: String {
        var s = "\(registry)/\(repository)"
        if let tag { s += ":\(tag)" }
        if let digest { s += "@\(digest)" }
        return s
    }

    /// `registry/repository` without tag or digest.
    public var name: String { "\(registry)/\(repository)" }

    /// The same repository with another tag (and no digest).
    public func withTag(_ tag: String) throws -> ImageReference {
        try ImageReference(registry: registry, repository: repository, tag: tag)
    }

    /// The same repository pinned to a digest (the tag is kept for display).
    public func withDigest(_ digest: Digest) -> ImageReference {
        // Safe: registry and repository were validated when `self` was made.
        try! ImageReference(registry: registry, repository: repository, tag: tag, digest: digest)
    }

    /// Maps Docker Hub's aliases to `docker.io`; other names are kept (lowercased host part).
    static func canonicalRegistry(_ registry: String) -> String {
        switch registry {
        case "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
            return dockerHub
        default:
            return registry
        }
    }
}
