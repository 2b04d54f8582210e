import ImgsyncCore

/// An OCI image manifest or a Docker schema-2 manifest (same shape).
public struct ImageManifest: Hashable, Sendable, Decodable {
    public let schemaVersion: Int
    public let mediaType: String?
    public let artifactType: String?
    public let config: Descriptor
    public let layers: [Descriptor]
    public let annotations: [String: String]
    public let subject: Descriptor?

    enum CodingKeys: String, CodingKey { case schemaVersion, mediaType, artifactType, config, layers, annotations, subject }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try c.decodeIfPresent(Int.self, forKey: .schemaVersion) ?? 0
        mediaType = try c.decodeIfPresent(String.self, forKey: .mediaType)
        artifactType = try c.decodeIfPresent(String.self, forKey: .artifactType)
        config = try c.decode(Descriptor.self, forKey: .config)
        layers = try c.decodeIfPresent([Descriptor].self, forKey: .layers) ?? []
        annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations) ?? [:]
        subject = try c.decodeIfPresent(Descriptor.self, forKey: .subject)
    }
}

/// An OCI image index or a Docker manifest list.
public struct ImageIndex: Hashable, Sendable, Decodable {
    public let schemaVersion: Int
    public let mediaType: String?
    public let manifests: [Descriptor]
    public let annotations: [String: String]

    enum CodingKeys: String, CodingKey { case schemaVersion, mediaType, manifests, annotations }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try c.decodeIfPresent(Int.self, forKey: .schemaVersion) ?? 0
        mediaType = try c.decodeIfPresent(String.self, forKey: .mediaType)
        manifests = try c.decode([Descriptor].self, forKey: .manifests)
        annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations) ?? [:]
    }
}
