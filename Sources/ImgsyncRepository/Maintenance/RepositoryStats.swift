#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Sizes and counts of a repository (`imgsync stats`).
public struct RepositoryStats: Codable, Sendable, Equatable {
    /// Canonical objects (one per distinct body) and the sum of their sizes.
    public var objects = 0
    public var objectBytes: Int64 = 0
    /// Hardlink-mode variant inodes (a body whose files differ in permission bits or mtime) and the
    /// bytes they cost: each is a full extra copy of its body.
    public var variants = 0
    public var variantBytes: Int64 = 0
    /// Blocks allocated to all object inodes (canonical and variant), in bytes (`st_blocks * 512`).
    public var allocatedBytes: Int64 = 0
    public var trees = 0
    public var names = 0
    public var imageCatalogs = 0
    public var chainCatalogs = 0
    /// Sum of the regular-file sizes the trees' catalogs list (a hard-link group counted once per
    /// image): what the trees would take without the object store.
    public var catalogBytes: Int64 = 0
    /// `objectBytes + variantBytes`.
    public var storedBytes: Int64 = 0
    /// `catalogBytes / storedBytes` (0 when nothing is stored).
    public var dedupRatio = 0.0
    /// Tree paths that users other than the owner cannot read (docs/design.md §2): regular files without
    /// o+r, directories without o+r or o+x, and anything below a directory without o+x.
    public var unreadableByOthers = 0
    /// Trees whose catalog could not be read (left out of `catalogBytes`).
    public var treesWithoutCatalog: [String] = []

    public init() {}

    /// Scans the repository. Reads every catalog and walks every tree (no bodies are read).
    public static func compute(_ repository: Repository) -> RepositoryStats {
        var s = RepositoryStats()
        for o in repository.objectFiles().objects {
            s.allocatedBytes += o.blocks * 512
            if o.isVariant {
                s.variants += 1
                s.variantBytes += o.size
            } else {
                s.objects += 1
                s.objectBytes += o.size
            }
        }
        s.storedBytes = s.objectBytes + s.variantBytes
        s.names = repository.publishedNames().count
        s.imageCatalogs = repository.imageCatalogIDs().count
        s.chainCatalogs = repository.chainCatalogIDs().count
        for id in repository.treeIDs() {
            s.trees += 1
            if let catalog = try? repository.readCatalog(image: id) {
                var groups = Set<UInt64>()
                for e in catalog where e.type == .regular {
                    if e.linkGroup != 0 && !groups.insert(e.linkGroup).inserted { continue }
                    s.catalogBytes += e.size
                }
            } else {
                s.treesWithoutCatalog.append(id.hex)
            }
            if let disk = try? DiskTree.walk(repository.imagePath(id)) {
                s.unreadableByOthers += unreadableByOthers(disk.mapValues { ($0.type, $0.mode) })
            }
        }
        s.dedupRatio = s.storedBytes > 0 ? Double(s.catalogBytes) / Double(s.storedBytes) : 0
        return s
    }

    /// Counts the paths of one tree that "other" users cannot read: a file without o+r, a directory
    /// without o+r or o+x, and everything below a directory without o+x. `tree` maps every path
    /// (the root is the empty path) to its type and its permission bits on disk.
    public static func unreadableByOthers(_ tree: [PathBytes: (type: CatalogEntryType?, mode: UInt32)]) -> Int {
        countUnreadable(tree, { ($0.key, $0.value.type, $0.value.mode) }, directoryMode: { tree[$0]?.mode })
    }

    /// The same count for a tree given as its catalog entries in catalog order (every directory
    /// before what it holds), one at a time, with the permission bits each entry has on disk. Only
    /// the directories are remembered: a tree of a million files costs a map of its directories.
    public struct UnreadableCounter {
        private var traversable: [PathBytes: Bool] = [:]
        public private(set) var count = 0

        public init() {}

        public mutating func add(_ path: PathBytes, _ type: CatalogEntryType, _ diskMode: UInt32) {
            let reachable = path.isEmpty || traversable[RepositoryStats.parent(of: path)] == true
            if type == .directory { traversable[path] = reachable && diskMode & 0o001 != 0 }
            if (!path.isEmpty && !reachable) || RepositoryStats.closedToOthers(type, diskMode) { count += 1 }
        }
    }

    /// A file without o+r, a directory without o+r or o+x (whatever holds it).
    static func closedToOthers(_ type: CatalogEntryType?, _ mode: UInt32) -> Bool {
        switch type {
        case .regular: mode & 0o004 == 0
        case .directory: mode & 0o005 != 0o005
        default: false
        }
    }

    private static func countUnreadable<S: Sequence>(_ entries: S, _ fields: (S.Element) -> (PathBytes, CatalogEntryType?, UInt32),
                                                     directoryMode: (PathBytes) -> UInt32?) -> Int {
        var traversable: [PathBytes: Bool] = [:]
        func canEnter(_ dir: PathBytes) -> Bool {
            if let known = traversable[dir] { return known }
            let own = (directoryMode(dir) ?? 0) & 0o001 != 0
            let result = own && (dir.isEmpty || canEnter(parent(of: dir)))
            traversable[dir] = result
            return result
        }
        var count = 0
        for element in entries {
            let (path, type, mode) = fields(element)
            if (!path.isEmpty && !canEnter(parent(of: path))) || closedToOthers(type, mode) { count += 1 }
        }
        return count
    }

    static func parent(of path: PathBytes) -> PathBytes {
        guard let slash = path.lastIndex(of: 0x2F) else { return [] }
        return Array(path[..<slash])
    }
}
