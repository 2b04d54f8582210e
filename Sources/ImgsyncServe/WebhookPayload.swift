import Foundation

/// The two notification formats `POST /webhook` accepts, reduced to the pushes they report:
///
/// - the distribution (Docker registry) envelope, `application/vnd.docker.distribution.events.v1+json`:
///   `{"events": [{"action": "push", "target": {"mediaType", "repository", "tag", "digest"},
///   "request": {"host"}}]}`. Pulls, and pushes of blobs (no tag, not a manifest media type), are
///   not pushes of an image and are left out;
/// - Harbor's webhook JSON: `{"type": "PUSH_ARTIFACT", "event_data": {"resources": [{"tag", "digest",
///   "resource_url"}], "repository": {"repo_full_name"}}}`; the registry host is the first
///   component of `resource_url`. Other types are left out.
///
/// Everything in the body is untrusted: its size, the number of events and every name are bounded
/// and validated, and any malformed part rejects the whole body (nothing of it is queued).
public enum WebhookPayload {
    /// The largest body accepted (distribution sends at most a few kB per event batch).
    public static let maxBodyBytes = 1 << 20
    /// The most events (or Harbor resources) in one body.
    public static let maxEvents = 1000

    /// The pushes a body reports (possibly none); throws `WebhookError` for a malformed body.
    public static func pushes(from body: [UInt8]) throws -> [RegistryPush] {
        guard body.count <= maxBodyBytes else { throw WebhookError("the body is larger than \(maxBodyBytes) bytes") }
        let payload: Payload
        do {
            payload = try JSONDecoder().decode(Payload.self, from: Data(body))
        } catch let error as DecodingError {
            throw WebhookError("not a registry notification: \(describe(error))")
        } catch {
            throw WebhookError("not valid JSON")
        }
        if let events = payload.events {
            return try distribution(events)
        }
        if let type = payload.type {
            return try harbor(type: type, payload.event_data)
        }
        throw WebhookError("not a registry notification: neither \"events\" (distribution) nor \"type\" (Harbor)")
    }

    static func distribution(_ events: [Payload.Event]) throws -> [RegistryPush] {
        guard events.count <= maxEvents else { throw WebhookError("more than \(maxEvents) events") }
        var pushes: [RegistryPush] = []
        for (i, event) in events.enumerated() where event.action == "push" {
            guard let target = event.target, let repository = target.repository else {
                throw WebhookError("event \(i): a push without target.repository")
            }
            guard let host = event.request?.host, !host.isEmpty else {
                throw WebhookError("event \(i): a push without request.host")
            }
            if target.tag == nil && !isManifest(target.mediaType) { continue }
            do {
                pushes.append(try RegistryPush(host: host, repository: repository, tag: target.tag, digest: target.digest))
            } catch let error as WebhookError {
                throw WebhookError("event \(i): \(error.message)")
            }
        }
        return pushes
    }

    static func harbor(type: String, _ data: Payload.HarborData?) throws -> [RegistryPush] {
        guard type == "PUSH_ARTIFACT" else { return [] }
        guard let data, let repository = data.repository?.repo_full_name else {
            throw WebhookError("PUSH_ARTIFACT without event_data.repository.repo_full_name")
        }
        let resources = data.resources ?? []
        guard !resources.isEmpty else { throw WebhookError("PUSH_ARTIFACT without event_data.resources") }
        guard resources.count <= maxEvents else { throw WebhookError("more than \(maxEvents) resources") }
        return try resources.enumerated().map { i, resource in
            guard let url = resource.resource_url, let slash = url.firstIndex(of: "/") else {
                throw WebhookError("resource \(i): resource_url must be host/repository:tag or host/repository@digest")
            }
            let host = String(url[..<slash])
            let path = url[url.index(after: slash)...]
            guard path.hasPrefix(repository),
                  path.dropFirst(repository.count).first.map({ $0 == ":" || $0 == "@" }) ?? true else {
                throw WebhookError("resource \(i): resource_url \(url.prefix(300)) is not in repository \(repository.prefix(300))")
            }
            let suffix = path.dropFirst(repository.count)
            var tag = resource.tag.flatMap { $0.isEmpty ? nil : $0 }
            if tag == nil, suffix.hasPrefix(":") { tag = String(suffix.dropFirst()) }
            var digest = resource.digest.flatMap { $0.isEmpty ? nil : $0 }
            if digest == nil, suffix.hasPrefix("@") { digest = String(suffix.dropFirst()) }
            do {
                return try RegistryPush(host: host, repository: repository, tag: tag, digest: digest)
            } catch let error as WebhookError {
                throw WebhookError("resource \(i): \(error.message)")
            }
        }
    }

    /// A manifest or index media type (a push by digest of an image, not of a layer or config).
    static func isManifest(_ mediaType: String?) -> Bool {
        guard let mediaType else { return false }
        return mediaType.contains("manifest") || mediaType.contains("image.index")
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context),
             .dataCorrupted(let context):
            let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return path.isEmpty ? "not valid JSON" : "\(path.prefix(200)): wrong type or value"
        @unknown default:
            return "undecodable"
        }
    }

    /// Both formats in one document: whichever fields are present decide the format.
    struct Payload: Decodable {
        var events: [Event]?
        var type: String?
        var event_data: HarborData?

        struct Event: Decodable {
            var action: String?
            var target: Target?
            var request: Request?
        }

        struct Target: Decodable {
            var mediaType: String?
            var repository: String?
            var tag: String?
            var digest: String?
        }

        struct Request: Decodable {
            var host: String?
        }

        struct HarborData: Decodable {
            var resources: [Resource]?
            var repository: Repository?
        }

        struct Resource: Decodable {
            var digest: String?
            var tag: String?
            var resource_url: String?
        }

        struct Repository: Decodable {
            var repo_full_name: String?
        }
    }
}
