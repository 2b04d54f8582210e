import ImgsyncCore

/// An image reference resolved for one platform: what the sync engine needs to build the tree.
public struct ResolvedImage: Sendable {
    public let reference: ImageReference
    /// The digest the tag points to when it is an index (multi-platform image), else nil.
    public let indexDigest: Digest?
    public let indexMediaType: String?
    /// The chosen image manifest.
    public let manifestDigest: Digest
    public let manifestMediaType: String
    public let manifest: ImageManifest
    public let manifestBytes: [UInt8]
    /// The platform chosen from the index, or the config's for a single-platform image.
    public let platform: Platform?
    public let configDescriptor: Descriptor
    public let config: ImageConfig
    public let configBytes: [UInt8]

    public var layers: [Descriptor] { manifest.layers }
    /// The digest the reference resolves to (index if any, else manifest): what "unchanged?" compares.
    public var digest: Digest { indexDigest ?? manifestDigest }
}

extension RegistryClient {
    /// Resolves `reference` for `platform`: the manifest (through nested indexes, R20–R24), checks that
    /// it is a container image (R28) with known layer types, and fetches and verifies its config.
    /// A single-platform image whose config names another platform is refused
    /// (`.noMatchingPlatform`) unless `acceptAnyPlatform` (a list line's `--platform any`).
    public func resolve(_ reference: ImageReference, platform: Platform = .linuxAMD64,
                        acceptAnyPlatform: Bool = false) async throws -> ResolvedImage {
        let top = try await fetchManifest(reference)
        var indexDigest: Digest?
        var indexType: String?
        var chosenPlatform: Platform?
        let leaf: FetchedManifest
        switch top.document {
        case .index(let index, let mediaType):
            indexDigest = top.digest
            indexType = mediaType
            (leaf, chosenPlatform) = try await select(from: index, of: reference, platform: platform, depth: 1)
        case .manifest:
            leaf = top
        }
        guard case .manifest(let manifest, let mediaType) = leaf.document else {
            throw ImgsyncError(.manifest, "\(reference): expected an image manifest")
        }
        let label = "\(reference.name)@\(leaf.digest)"
        if let artifact = manifest.artifactType {
            throw ImgsyncError(.notAContainerImage, "\(reference) is not a container image (artifactType \(artifact.debugQuoted))")
        }
        guard MediaType.configTypes.contains(manifest.config.mediaType) else {
            throw ImgsyncError(.notAContainerImage, "\(reference) is not a container image (config media type \(manifest.config.mediaType.debugQuoted))")
        }
        for layer in manifest.layers where !MediaType.layerTypes.contains(layer.mediaType) {
            throw ImgsyncError(.unsupportedMediaType, "\(label): layer \(layer.digest) has unsupported media type \(layer.mediaType.debugQuoted)", layer: layer.digest.description)
        }
        let configBytes = try await fetchSmallBlob(reference, descriptor: manifest.config)
        let config = try ImageConfig(parsing: configBytes, source: "\(reference.name)@\(manifest.config.digest)")
        guard config.diffIDs.count == manifest.layers.count else {
            throw ImgsyncError(.config, "\(label): the config lists \(config.diffIDs.count) diff_ids for \(manifest.layers.count) layers")
        }
        if chosenPlatform == nil, let os = config.os, let arch = config.architecture, !os.isEmpty, !arch.isEmpty {
            let declared = Platform(os: os, architecture: arch, variant: config.variant)
            if !acceptAnyPlatform && !declared.serves(platform) {
                throw ImgsyncError(.noMatchingPlatform, "\(reference) is a single-platform image for \(declared), not \(platform); "
                    + "give it --platform \(declared) (on its list line, or to the command), or --platform any on its list line "
                    + "to take whatever platform it has")
            }
            chosenPlatform = declared
        }
        return ResolvedImage(
            reference: reference, indexDigest: indexDigest, indexMediaType: indexType,
            manifestDigest: leaf.digest, manifestMediaType: mediaType, manifest: manifest, manifestBytes: leaf.bytes,
            platform: chosenPlatform, configDescriptor: manifest.config, config: config, configBytes: configBytes)
    }

    /// Picks the first matching entry, following nested indexes by digest up to
    /// `PlatformSelector.maximumIndexDepth` levels.
    private func select(from index: ImageIndex, of reference: ImageReference, platform: Platform, depth: Int) async throws -> (FetchedManifest, Platform?) {
        let candidates = PlatformSelector.candidates(in: index, for: platform)
        var nestedMiss: [String] = []
        for entry in candidates {
            if MediaType.indexTypes.contains(entry.mediaType) && depth >= PlatformSelector.maximumIndexDepth {
                throw ImgsyncError(.limit, "\(reference): indexes nested deeper than \(PlatformSelector.maximumIndexDepth) levels")
            }
            let child = try await fetchManifest(reference.withDigest(entry.digest))
            guard Int64(child.bytes.count) == entry.size else {
                throw ImgsyncError(.sizeMismatch, "\(reference.name)@\(entry.digest): \(child.bytes.count) bytes, the index says \(entry.size)")
            }
            switch child.document {
            case .manifest:
                return (child, entry.platform)
            case .index(let nested, _):
                do {
                    let (leaf, p) = try await select(from: nested, of: reference, platform: platform, depth: depth + 1)
                    return (leaf, p ?? entry.platform)
                } catch let error as ImgsyncError where error.code == .noMatchingPlatform {
                    nestedMiss += PlatformSelector.available(in: nested)
                }
            }
        }
        throw PlatformSelector.noMatch(reference.description, platform: platform, available: PlatformSelector.available(in: index) + nestedMiss)
    }
}
