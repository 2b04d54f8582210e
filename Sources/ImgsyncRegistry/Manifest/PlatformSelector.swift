import ImgsyncCore

/// Chooses an index entry for a platform (R20–R24).
public enum PlatformSelector {
    /// How deep indexes may nest: the top index counts as level 1 (R24).
    public static let maximumIndexDepth = 4

    /// The entries worth trying, best first: image manifests whose platform matches, and nested
    /// indexes whose platform matches or is absent, in index order (the first match wins, R22).
    /// Attestation manifests (`vnd.docker.reference.type`) and `unknown/unknown` entries are never
    /// chosen (R20); entries with unknown media types are skipped, not an error (R24).
    public static func candidates(in index: ImageIndex, for platform: Platform) -> [Descriptor] {
        index.manifests.filter { entry in
            if entry.annotations["vnd.docker.reference.type"] != nil { return false }
            if MediaType.manifestTypes.contains(entry.mediaType) {
                guard let p = entry.platform else { return false }
                return p.matches(platform)
            }
            if MediaType.indexTypes.contains(entry.mediaType) {
                return entry.platform.map { $0.matches(platform) } ?? true
            }
            return false
        }
    }

    /// The platforms an index offers (image manifests only, attestations left out), for error messages.
    public static func available(in index: ImageIndex) -> [String] {
        var seen: [String] = []
        for entry in index.manifests where entry.annotations["vnd.docker.reference.type"] == nil {
            if MediaType.indexTypes.contains(entry.mediaType) {
                let label = entry.platform.map { "\($0) (nested index)" } ?? "nested index \(entry.digest)"
                if !seen.contains(label) { seen.append(label) }
                continue
            }
            guard MediaType.manifestTypes.contains(entry.mediaType), let p = entry.platform else { continue }
            let label = p.description
            if label != "unknown/unknown", !seen.contains(label) { seen.append(label) }
        }
        return seen
    }

    /// The `.noMatchingPlatform` error for `reference`: names the request and what the index offers.
    public static func noMatch(_ reference: String, platform: Platform, available: [String]) -> ImgsyncError {
        let offer = available.isEmpty ? "no platform images" : available.joined(separator: ", ")
        return ImgsyncError(.noMatchingPlatform, "\(reference) has no image for \(platform); available: \(offer)")
    }
}
