#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// What the repository records about one image tree, beside its catalog:
/// `.imgsync/images/<id hex>.json`. Written before the tree is renamed into `.images/`.
public struct ImageRecord: Codable, Sendable, Equatable {
    /// The image id: the config digest (`imgsync sync`) or the ChainID (`imgsync apply`).
    public var imageID: Digest
    /// The layers' DiffIDs in order, and the ChainID after each (their chain catalogs).
    public var diffIDs: [Digest]
    public var chainIDs: [Digest]
    /// Paths in the image catalog and the sum of regular-file sizes (before deduplication).
    public var entries: Int
    public var bytes: Int64
    public var created: Date
    /// How the tree's files share bodies with the object store (decides their on-disk modes, and
    /// how `verify --repair` rebuilds the tree). Absent in records written before it existed.
    public var linkMode: LinkMode?
    /// The tree is a+rX on disk (`--world-readable`); absent means no.
    public var worldReadable: Bool?

    public init(imageID: Digest, diffIDs: [Digest], entries: Int, bytes: Int64, created: Date = Date(), linkMode: LinkMode? = nil,
                worldReadable: Bool = false) {
        self.imageID = imageID
        self.diffIDs = diffIDs
        self.chainIDs = ChainID.chain(diffIDs)
        self.entries = entries
        self.bytes = bytes
        self.created = created
        self.linkMode = linkMode
        self.worldReadable = worldReadable ? true : nil
    }
}

/// What `imgsync sync` last published under one name.
public struct NameRecord: Codable, Sendable, Equatable {
    /// The published name (`org/image:tag`).
    public var name: String
    /// The normalised reference the name was synced from (`docker.io/library/debian:12`).
    public var reference: String
    /// The digest the tag pointed to (the index's digest for a multi-platform image).
    public var digest: Digest
    /// The chosen platform manifest's digest and media type.
    public var manifestDigest: Digest
    public var manifestMediaType: String
    /// The image id (config digest) the name points to.
    public var imageID: Digest
    /// `os/arch[/variant]` that was selected.
    public var platform: String
    /// When the tree was last (re)built or re-pointed, and when the tag was last checked.
    public var published: Date
    public var checked: Date

    public init(name: String, reference: String, digest: Digest, manifestDigest: Digest, manifestMediaType: String,
                imageID: Digest, platform: String, published: Date, checked: Date) {
        self.name = name
        self.reference = reference
        self.digest = digest
        self.manifestDigest = manifestDigest
        self.manifestMediaType = manifestMediaType
        self.imageID = imageID
        self.platform = platform
        self.published = published
        self.checked = checked
    }
}

/// The repository's sync state: `.imgsync/state.json`, rewritten atomically under the lock.
public struct RepositoryState: Codable, Sendable, Equatable {
    public var version = 1
    /// Published names → what they were synced from.
    public var names: [String: NameRecord] = [:]
    /// How many entries the list had at the last sync that read it and was free to remove names
    /// (the shrink guard's baseline). A run that holds removals back keeps the old value.
    public var listEntries: Int?
    /// Since when de-listed names have been kept by the shrink guard or because of bad list lines
    /// (nil when nothing is held).
    public var removalsHeldSince: Date?
    /// Image ids (hex) with no name pointing at them → since when (GC's grace period counts from here).
    public var unreferencedSince: [String: Date] = [:]
    public var lastSync: Date?
    /// Whether names keep the registry (`--keep-registry`): a setting that shapes every published
    /// path, so later runs follow it (absent in states written before it was recorded).
    public var keepRegistry: Bool?
    /// For `--platform all` lines: what each reference offered when last read (keyed by the
    /// reference), so that an unchanged tag costs a HEAD, not a GET of its index (absent in states
    /// written before it was recorded).
    public var platformLists: [String: PlatformList]?

    public init() {}
}

/// The platforms a reference's manifest offered (`os/arch[/variant]`, in index order) while its tag
/// pointed at `digest`; empty for a single-platform image whose config names none.
public struct PlatformList: Codable, Sendable, Equatable {
    public var digest: Digest
    public var platforms: [String]

    public init(digest: Digest, platforms: [String]) {
        self.digest = digest
        self.platforms = platforms
    }
}

extension LinkMode: Codable {}

extension Digest: Codable {
    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        self = try Digest(parsing: s)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

extension Repository {
    public var statePath: String { root + "/.imgsync/state.json" }
    public func imageRecordPath(_ imageID: Digest) -> String { root + "/.imgsync/images/" + imageID.hex + ".json" }

    static let jsonEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return e
    }()

    static let jsonDecoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }()

    /// The sync state of the repository at `root` without opening (or creating) the repository;
    /// nil when there is none yet.
    public static func readState(root: String) throws -> RepositoryState? {
        let absolute = root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root
        return try readStateFile(absolute + "/.imgsync/state.json")
    }

    /// The last state decoded by this process and the SHA-256 of its bytes. A partial sync (`add
    /// --sync`, a webhook's run) reads the state several times (path settings, known platform
    /// lists, the run itself, GC); decoding is linear in the published names (about 15 ms for 1,500
    /// of them), reading and hashing the bytes is not the cost.
    private static let lastState = Mutex<(path: String, digest: Digest, state: RepositoryState)?>(nil)

    /// The state in `path`, nil when there is no such file.
    static func readStateFile(_ path: String) throws -> RepositoryState? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let digest = data.withUnsafeBytes { SHA256Hasher.hash($0) }
        if let cached = lastState.withLock({ $0 }), cached.path == path, cached.digest == digest { return cached.state }
        let state = try decodeState(data, path: path)
        lastState.withLock { $0 = (path, digest, state) }
        return state
    }

    static func decodeState(_ data: Data, path: String) throws -> RepositoryState {
        do {
            return try Repository.jsonDecoder.decode(RepositoryState.self, from: data)
        } catch {
            throw ImgsyncError(.catalog, "\(path): unreadable sync state: \(error)")
        }
    }

    /// The sync state; an empty state when the repository has none yet. A state file that cannot be
    /// parsed is an error (never silently treated as empty: that would unpublish everything).
    public func readState() throws -> RepositoryState {
        try Repository.readStateFile(statePath) ?? RepositoryState()
    }

    public func writeState(_ state: RepositoryState) throws {
        try writeAtomically(statePath, Array(try Repository.jsonEncoder.encode(state)), what: "the sync state")
    }

    public func readImageRecord(_ imageID: Digest) throws -> ImageRecord? {
        guard let data = FileManager.default.contents(atPath: imageRecordPath(imageID)) else { return nil }
        do {
            return try Repository.jsonDecoder.decode(ImageRecord.self, from: data)
        } catch {
            throw ImgsyncError(.catalog, "\(imageRecordPath(imageID)): unreadable image record: \(error)")
        }
    }

    /// Writes the record; `image` names the image in messages (default: its id).
    public func writeImageRecord(_ record: ImageRecord, image: String? = nil) throws {
        _ = try makeDirectory(".imgsync/images")
        try writeAtomically(imageRecordPath(record.imageID), Array(try Repository.jsonEncoder.encode(record)),
                            what: "the image record of \(image ?? record.imageID.description)")
    }

    /// Every published name in the root: symlinks outside the dot-directories that point into
    /// `.images/`, with the image id they point to.
    public func publishedNames() -> [(name: String, imageID: Digest)] {
        var out: [(String, Digest)] = []
        forEachNameEntry { entry, name in
            if entry.isSymlink, let n = try? PublishedName(name), let id = imageID(of: n) {
                out.append((name, id))
            }
        }
        return out
    }

    /// Visits, in byte order, every entry of the name directories (the root minus its dot-entries,
    /// and the directories below), with its name relative to the root. Directories are visited
    /// before their contents; symlinks are never followed. Names that are not UTF-8 are no
    /// published names and are skipped with what is below them.
    func forEachNameEntry(_ visit: (TreeEntry, String) -> Void) {
        try? TreeWalker(sorted: true).walk(rootFd, enter: { entry in
            if entry.depth == 1 && entry.name.first == 0x2E { return false }
            guard let name = String(validating: entry.path, as: UTF8.self) else { return false }
            visit(entry, name)
            return true
        })
    }

    /// Removes a published name (its symlink) and any directories that become empty above it.
    public func unpublish(_ name: PublishedName) throws {
        let path = root + "/" + name.description
        if Glibc.unlink(path) != 0 && errno != ENOENT { throw Syscall.failure("unpublish", path) }
        var comps = name.components.dropLast()
        while !comps.isEmpty {
            if rmdir(root + "/" + comps.joined(separator: "/")) != 0 { break }
            comps = comps.dropLast()
        }
    }
}

extension Repository {
    /// Whether the existing trees are a+rX on disk (`--world-readable`), or nil when there are none.
    public func worldReadableSetting() -> Bool? {
        for id in imageRecordIDs() {
            guard let record = try? readImageRecord(id) else { continue }
            return record.worldReadable ?? false
        }
        return nil
    }

    /// Trees of one repository are all a+rX on disk or none is (`--world-readable`): a tree reused
    /// by image id, or a body's inode shared in hardlink mode, must have the modes the run expects.
    /// Throws when existing trees were built with the other setting.
    public func checkWorldReadable(_ wanted: Bool) throws {
        if let existing = worldReadableSetting(), existing != wanted { throw worldReadableMismatch(wanted: wanted) }
    }

    private func worldReadableMismatch(wanted: Bool) -> ImgsyncError {
        ImgsyncError(.config, "the trees in \(root) were built \(wanted ? "without" : "with") --world-readable; a repository is one or the other: publish into a new root to change it")
    }

    /// The setting a command should build with: what the existing trees have, or `requested` for
    /// an empty repository. Asking for `--world-readable` on trees built without it is an error
    /// (without the flag, a run follows the repository).
    public func effectiveWorldReadable(requested: Bool) throws -> Bool {
        let existing = worldReadableSetting()
        if requested && existing == false { throw worldReadableMismatch(wanted: true) }
        return requested || existing == true
    }
}
