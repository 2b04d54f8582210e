import Foundation

/// What `imgsync list` / `status` shows: published names, and trees waiting for GC.
public struct RepositoryStatus: Codable, Sendable, Equatable {
    public struct Name: Codable, Sendable, Equatable {
        public var name: String
        /// Image id (`sha256:…`) the name's symlink points at.
        public var imageID: String
        public var treePresent: Bool
        /// From the sync state, when the name was published by `imgsync sync`.
        public var reference: String?
        public var digest: String?
        public var manifestDigest: String?
        public var platform: String?
        public var published: Date?
        public var checked: Date?
        /// From the image record: regular-file bytes before deduplication, and catalog entries.
        public var bytes: Int64?
        public var entries: Int?
        /// For a platform name (`org/image:1@linux-arm64-v8`, a tree of a multi-platform list line):
        /// the plain name it belongs to.
        public var platformOf: String?
        /// For a plain name with platform names: each platform's name, path and tree, in name order.
        public var platforms: [PlatformTree]?
    }

    /// One platform of a multi-platform name (`imgsync list --json`).
    public struct PlatformTree: Codable, Sendable, Equatable {
        /// From the sync state (`linux/arm64/v8`); nil when the state has no record of the name.
        public var platform: String?
        /// The platform name, e.g. `org/image:1@linux-arm64-v8`.
        public var name: String
        /// The published path (`<root>/<name>`) and the tree it points to (`<root>/.images/…`).
        public var path: String
        public var tree: String
        public var imageID: String
    }

    public struct Pending: Codable, Sendable, Equatable {
        public var imageID: String
        /// When GC first saw the tree without a name; nil when no GC run has seen it yet.
        public var unreferencedSince: Date?
        /// When GC may delete it (with the grace period given); nil when no GC run has seen it yet.
        public var eligible: Date?
        public var bytes: Int64?
    }

    public var names: [Name] = []
    public var pendingGC: [Pending] = []
    public var lastSync: Date?
    public var graceSeconds: TimeInterval

    /// Reads the names, the sync state and the image records. `grace` is the period to show
    /// eligibility with (GC's default unless the operator runs GC with another).
    public static func compute(_ repository: Repository, grace: TimeInterval = GracePeriod.defaultSeconds) throws -> RepositoryStatus {
        let state = try repository.readState()
        var status = RepositoryStatus(lastSync: state.lastSync, graceSeconds: grace)
        let trees = Set(repository.treeIDs())
        var referenced = Set<Digest>()
        for (name, id) in repository.publishedNames() {
            referenced.insert(id)
            let record = try? repository.readImageRecord(id)
            var n = Name(name: name, imageID: id.description, treePresent: trees.contains(id), bytes: record?.bytes, entries: record?.entries)
            if let r = state.names[name], r.imageID == id {
                n.reference = r.reference
                n.digest = r.digest.description
                n.manifestDigest = r.manifestDigest.description
                n.platform = r.platform
                n.published = r.published
                n.checked = r.checked
            }
            status.names.append(n)
        }
        status.groupPlatforms(repository)
        for id in trees.sorted() where !referenced.contains(id) {
            let since = state.unreferencedSince[id.hex]
            let record = try? repository.readImageRecord(id)
            status.pendingGC.append(Pending(imageID: id.description, unreferencedSince: since,
                                            eligible: since?.addingTimeInterval(grace), bytes: record?.bytes))
        }
        return status
    }

    /// Marks platform names with their plain name and lists them under it (`PublishedName.platformOf`).
    mutating func groupPlatforms(_ repository: Repository) {
        let index = Dictionary(names.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        for i in names.indices {
            guard let (plain, _) = (try? PublishedName(names[i].name))?.platformOf, let p = index[plain] else { continue }
            names[i].platformOf = plain
            let tree = (try? Digest(parsing: names[i].imageID)).map(repository.imagePath) ?? ""
            names[p].platforms = (names[p].platforms ?? []) + [PlatformTree(
                platform: names[i].platform, name: names[i].name, path: repository.root + "/" + names[i].name, tree: tree,
                imageID: names[i].imageID)]
        }
    }
}
