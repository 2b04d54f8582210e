import AsyncHTTPClient
import Foundation
import ImgsyncCore
import NIOHTTP1

/// A manifest or index as fetched: its bytes, their sha256 (the identity) and the decoded document.
public struct FetchedManifest: Sendable {
    /// The reference it was fetched by.
    public let reference: ImageReference
    /// sha256 of the bytes received; verified against the requested digest and Docker-Content-Digest.
    public let digest: Digest
    public let contentType: String?
    public let bytes: [UInt8]
    public let document: ManifestDocument
}

/// What a HEAD request says about a manifest (the cheap "unchanged?" check).
public struct ManifestHead: Sendable, Equatable {
    public let digest: Digest
    public let mediaType: String?
    public let size: Int64?
}

extension RegistryClient {
    /// GETs a manifest by tag or digest with the full Accept list (R14), at most 4 MiB (R51), verifies
    /// its digest (R25–R27) and decodes it (R15–R19).
    public func fetchManifest(_ reference: ImageReference) async throws -> FetchedManifest {
        if let wanted = reference.digest,
           let hit = contentCache.get(ContentCache.key(registry: reference.registry, repository: reference.repository, digest: wanted)) {
            let document = try ManifestDocument.decode(hit.bytes, contentType: hit.contentType, source: "\(reference.name)@\(wanted)")
            return FetchedManifest(reference: reference, digest: wanted, contentType: hit.contentType, bytes: hit.bytes, document: document)
        }
        let request = manifestRequest(reference, method: .GET)
        let response = try await perform(request)
        defer { response.release() }
        let bytes = try await collect(response.response, limit: configuration.manifestLimit, what: "manifest \(request.label)")
        trafficLog.received(reference.registry, bytes: bytes.count)
        let contentType = response.headers.first(name: "Content-Type")
        let digest = try verifyManifest(bytes, reference: reference, header: response.headers.first(name: "Docker-Content-Digest"), label: request.label)
        let document = try ManifestDocument.decode(bytes, contentType: contentType, source: request.label)
        // Kept by the digest the bytes have: a later fetch by that digest (another tag's index
        // entry, the same image resolved again) is answered from here.
        contentCache.put(ContentCache.key(registry: reference.registry, repository: reference.repository, digest: digest),
                         ContentCache.Entry(bytes: bytes, contentType: contentType))
        return FetchedManifest(reference: reference, digest: digest, contentType: contentType, bytes: bytes, document: document)
    }

    /// HEADs a manifest and returns `Docker-Content-Digest`; without that header (older registries),
    /// falls back to GET and hashes the body (R53). HEAD does not count against Hub's pull limit.
    public func headManifest(_ reference: ImageReference) async throws -> ManifestHead {
        let request = manifestRequest(reference, method: .HEAD)
        let response = try await perform(request)
        response.release()
        if let header = response.headers.first(name: "Docker-Content-Digest") {
            let parsed = try RegistryDigest.split(header, what: "Docker-Content-Digest of \(request.label)")
            if parsed.algorithm == "sha256" {
                let digest = try RegistryDigest.parse(header, what: "Docker-Content-Digest of \(request.label)")
                if let wanted = reference.digest, wanted != digest {
                    throw ImgsyncError(.digestMismatch, "\(request.label): the registry reports digest \(digest)")
                }
                return ManifestHead(
                    digest: digest,
                    mediaType: MediaType.essence(response.headers.first(name: "Content-Type")),
                    size: response.headers.first(name: "Content-Length").flatMap(Int64.init)
                )
            }
        }
        let fetched = try await fetchManifest(reference)
        return ManifestHead(digest: fetched.digest, mediaType: fetched.document.mediaType, size: Int64(fetched.bytes.count))
    }

    func manifestRequest(_ reference: ImageReference, method: HTTPMethod) -> RegistryRequest {
        var request = RegistryRequest(
            method: method, registry: reference.registry,
            url: baseURL(reference.registry) + "/v2/\(reference.repository)/manifests/\(reference.manifestReference)",
            subject: .manifest(reference))
        request.headers.add(name: "Accept", value: MediaType.manifestAccept)
        request.scopes = [.pull(reference.repository)]
        return request
    }

    /// The sha256 of `bytes`, checked against the pinned digest (R26) and `Docker-Content-Digest`
    /// (R25: when present it must match; R27: a sha512 header is checked with sha512; R50: an invalid
    /// or unverifiable header is an error).
    func verifyManifest(_ bytes: [UInt8], reference: ImageReference, header: String?, label: String) throws -> Digest {
        let digest = SHA256Hasher.hash(bytes)
        if let wanted = reference.digest, wanted != digest {
            throw ImgsyncError(.digestMismatch, "\(label): the manifest received hashes to \(digest), not the requested \(wanted)")
        }
        guard let header else { return digest }
        let what = "Docker-Content-Digest of \(label)"
        let parsed = try RegistryDigest.split(header, what: what)
        switch parsed.algorithm {
        case "sha256":
            let claimed = try RegistryDigest.parse(header, what: what)
            guard claimed == digest else {
                throw ImgsyncError(.digestMismatch, "\(label): Docker-Content-Digest says \(claimed) but the manifest received hashes to \(digest)")
            }
        case "sha512":
            guard SHA512.hex(bytes) == parsed.encoded else {
                throw ImgsyncError(.digestMismatch, "\(label): Docker-Content-Digest says \(header) but the manifest received does not match it")
            }
        default:
            throw ImgsyncError(.unsupportedAlgorithm, "\(what): algorithm \(parsed.algorithm.debugQuoted) cannot be verified")
        }
        return digest
    }
}
