import ImgsyncCore

/// What a list line's `--platform` asks for (docs/image-list.md): nothing (the sync's default), `any`,
/// one platform, several (`linux/amd64,linux/arm64/v8`), or `all` the platforms of the index.
public enum PlatformRequest: Sendable, Hashable {
    /// One tree: `platform` chosen from an index; `acceptAny` takes a single-platform image whatever
    /// its platform.
    case one(Platform, acceptAny: Bool)
    /// One tree per platform, in the order given (at least two, no two equal).
    case several([Platform])
    /// One tree per platform of the index (attestations left out).
    case all

    /// The word for every platform of the index.
    public static let allKeyword = "all"

    /// Parses a `--platform` value (nil: none given, `fallback` applies). Throws
    /// `ImgsyncError(.invalidArgument)` for a bad platform, a platform given twice, or `any`/`all`
    /// combined with others.
    public init(_ text: String?, default fallback: Platform) throws {
        guard let text else {
            self = .one(fallback, acceptAny: false)
            return
        }
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        if items.count == 1 {
            switch text {
            case Platform.anyKeyword: self = .one(fallback, acceptAny: true)
            case Self.allKeyword: self = .all
            default: self = .one(try Platform(parsing: text), acceptAny: false)
            }
            return
        }
        var platforms: [Platform] = []
        for item in items {
            if item == Platform.anyKeyword || item == Self.allKeyword {
                throw ImgsyncError(.invalidArgument, "--platform \(item) cannot be combined with other platforms (\(text.debugQuoted))")
            }
            let platform = try Platform(parsing: item)
            if platforms.contains(where: { $0.matches(platform) }) {
                throw ImgsyncError(.invalidArgument, "platform \(platform) is given twice in \(text.debugQuoted)")
            }
            platforms.append(platform)
        }
        self = .several(platforms)
    }

    /// The normalised text a list entry keeps (`linux/arm64/v8,linux/amd64`, `any`, `all`).
    public static func normalised(_ text: String) throws -> String {
        switch try PlatformRequest(text, default: .linuxAMD64) {
        case .one(let platform, let acceptAny): return acceptAny ? Platform.anyKeyword : platform.description
        case .several(let platforms): return platforms.map(\.description).joined(separator: ",")
        case .all: return allKeyword
        }
    }
}

extension PlatformSelector {
    /// The platforms an index offers, in index order, each once: image manifests and nested indexes
    /// that name a platform, attestations (`vnd.docker.reference.type`) and `unknown/unknown` left out.
    public static func platforms(in index: ImageIndex) -> [Platform] {
        var out: [Platform] = []
        for entry in index.manifests where entry.annotations["vnd.docker.reference.type"] == nil {
            guard MediaType.manifestTypes.contains(entry.mediaType) || MediaType.indexTypes.contains(entry.mediaType),
                  let p = entry.platform, !(p.os == "unknown" && p.architecture == "unknown"),
                  !out.contains(where: { $0.matches(p) }) else { continue }
            out.append(p)
        }
        return out
    }
}

extension Platform {
    /// What `uname -m` says on a Linux machine of this platform (the value CVMFS gives
    /// `CVMFS_ARCH`): `x86_64`, `aarch64`, `ppc64le`, `s390x`, `i686`, `armv7l`; nil for other
    /// platforms (no machine alias is published for them).
    public var unameMachine: String? {
        guard os == "linux" else { return nil }
        switch (architecture, variant) {
        case ("amd64", _): return "x86_64"
        case ("arm64", _): return "aarch64"
        case ("ppc64le", _): return "ppc64le"
        case ("s390x", _): return "s390x"
        case ("386", _): return "i686"
        case ("arm", "v7"): return "armv7l"
        default: return nil
        }
    }
}
