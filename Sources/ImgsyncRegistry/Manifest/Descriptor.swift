import ImgsyncCore

/// An OCI content descriptor. The digest is validated while decoding (R50), so no descriptor with a
/// malformed or unverifiable digest ever exists.
public struct Descriptor: Hashable, Sendable, Decodable {
    public let mediaType: String
    public let digest: Digest
    public let size: Int64
    public let urls: [String]
    public let annotations: [String: String]
    public let platform: Platform?
    public let artifactType: String?

    public init(
        mediaType: String, digest: Digest, size: Int64, urls: [String] = [],
        annotations: [String: String] = [:], platform: Platform? = nil, artifactType: String? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.urls = urls
        self.annotations = annotations
        self.platform = platform
        self.artifactType = artifactType
    }

    enum CodingKeys: String, CodingKey {
        case mediaType, digest, size, urls, annotations, platform, artifactType
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mediaType = try c.decodeIfPresent(String.self, forKey: .mediaType) ?? ""
        let digestText = try c.decode(String.self, forKey: .digest)
        digest = try RegistryDigest.parse(digestText, what: "descriptor")
        size = try c.decode(Int64.self, forKey: .size)
        guard size >= 0 else {
            throw ImgsyncError(.manifest, "descriptor \(digestText) has a negative size \(size)")
        }
        urls = try c.decodeIfPresent([String].self, forKey: .urls) ?? []
        annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations) ?? [:]
        platform = try c.decodeIfPresent(Platform.self, forKey: .platform)
        artifactType = try c.decodeIfPresent(String.self, forKey: .artifactType)
    }
}
