/// One thing `verify` found wrong.
public struct VerifyProblem: Codable, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable {
        /// An object whose body does not hash to its name.
        case corruptObject = "corrupt-object"
        /// An object whose on-disk metadata breaks the store's rules (write or set-id bits, or a
        /// variant whose mode/mtime differ from its name).
        case objectMetadata = "object-metadata"
        /// A body an image catalog lists that the object store does not hold intact.
        case missingObject = "missing-object"
        /// A file under `.objects` that is no object name.
        case strayFile = "stray-file"
        /// A tree path that differs from the image catalog.
        case treeDifference = "tree-difference"
        /// A published name points at an image whose tree is missing.
        case missingTree = "missing-tree"
        /// A tree (or a name's image) without a readable catalog: nothing to check or rebuild it against.
        case missingCatalog = "missing-catalog"
        /// A tree that cannot be rebuilt from the catalog and the object store.
        case needsResync = "needs-resync"
        /// The GC index disagrees with the catalogs it counts (`--repair` removes it; the next gc
        /// then runs the full mark-and-sweep and writes a new one).
        case gcIndex = "gc-index"
    }

    public var kind: Kind
    /// `sha256:<id>` and the names that point at it, for tree problems.
    public var image: String?
    /// The tree path (tree problems) or the object path relative to the root.
    public var path: String?
    public var message: String
    /// Set when `--repair` fixed it (checked again after the repair).
    public var repaired = false

    public init(_ kind: Kind, image: String? = nil, path: String? = nil, _ message: String) {
        self.kind = kind
        self.image = image
        self.path = path
        self.message = message
    }

    public var description: String {
        var s = "[\(kind.rawValue)]"
        if let image { s += " image \(image)" }
        if let path { s += image == nil ? " \(path)" : " path \"\(path)\"" }
        s += ": " + message
        if repaired { s += " (repaired)" }
        return s
    }
}

/// What a `verify` run checked and found.
public struct VerifyReport: Codable, Sendable {
    public var objectsChecked = 0
    public var objectBytesHashed: Int64 = 0
    public var treesChecked = 0
    public var pathsChecked = 0
    public var problems: [VerifyProblem] = []
    /// Objects `--repair` deleted (corrupt bodies, stray files), relative to the root.
    public var objectsDeleted: [String] = []
    /// Image ids (hex) whose trees `--repair` rebuilt.
    public var treesRebuilt: [String] = []
    /// The GC index as found (docs/design.md §3.7).
    public var gcIndex = ""
    /// Bodies in the store that no catalog lists (what `gc --full` would delete); nil when a
    /// catalog could not be read.
    public var unlistedBodies: Int? = 0

    /// Problems still present after the run (all of them without `--repair`).
    public var remaining: [VerifyProblem] { problems.filter { !$0.repaired } }
}
