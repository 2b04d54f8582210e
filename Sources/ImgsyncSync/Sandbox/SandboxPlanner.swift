import ImgsyncCore

/// Decides, path by path, what the generated tar adds to an image tree, and writes it.
///
/// What the image has is asked through `existing` (the type at a path, a final symlink not
/// followed; `path + "/."` is `.directory` when the path leads to a directory) and `linkTarget`
/// (a symlink's target). What this planner already added is kept beside it, so that later
/// decisions see earlier ones: a symlink is followed through the image's entries and the planned
/// ones alike.
struct SandboxPlanner {
    enum Policy {
        /// Written whatever the image has there (a directory excepted).
        case replace
        /// Written only where the image has nothing.
        case ifAbsent
    }

    let existing: (String) -> CatalogEntryType?
    let linkTarget: (String) -> [UInt8]?
    let mtime: Int64
    private(set) var writer = TarWriter()
    private(set) var warnings: [String] = []
    /// Paths added to the tar, in order (for the caller's log and for tests).
    private(set) var written: [String] = []
    /// Files of the image that were kept where imgsync has a file of its own.
    private(set) var kept: [String] = []
    /// Files (or symlinks, …) of the image that a file of imgsync's replaced.
    private(set) var replaced: [String] = []
    private var planned: [String: CatalogEntryType] = [:]
    /// Targets of the planned symlinks.
    private var plannedLinks: [String: String] = [:]
    /// Directories this planner creates or replaces: nothing of the image is below them.
    private var fresh: Set<String> = []

    init(existing: @escaping (String) -> CatalogEntryType?, linkTarget: @escaping (String) -> [UInt8]?, mtime: Int64) {
        self.existing = existing
        self.linkTarget = linkTarget
        self.mtime = mtime
    }

    func type(_ path: String) -> CatalogEntryType? {
        if let t = planned[path] { return t }
        return underFresh(path) ? nil : existing(path)
    }

    /// Whether `path` leads to a directory once the planned entries are in. Symlinks are resolved
    /// inside the root, component by component, so that `var/tmp -> /tmp` counts as a directory
    /// when the image has no `tmp` but this planner creates it.
    func isDirectory(_ path: String) -> Bool {
        if planned[path] == .directory || resolvesToDirectory(path) { return true }
        // The image's own answer, for a link target that is not UTF-8 (the planner's paths are).
        return !underFresh(path) && existing(path + "/.") == .directory
    }

    /// The kernel's limit on symlinks followed in one lookup (MAXSYMLINKS).
    private static let maxSymlinkHops = 40

    private func imageLinkTarget(_ path: String) -> String? {
        linkTarget(path).flatMap { String(validating: $0, as: UTF8.self) }
    }

    private func resolvesToDirectory(_ path: String) -> Bool {
        var resolved: [Substring] = []  // every one a directory
        var pending = Array(path.split(separator: "/").reversed())
        var hops = 0
        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." {
                _ = resolved.popLast()  // the root's parent is the root
                continue
            }
            let p = (resolved + [component]).joined(separator: "/")
            switch type(p) {
            case .directory?:
                resolved.append(component)
            case .symlink?:
                hops += 1
                guard hops <= Self.maxSymlinkHops, let target = plannedLinks[p] ?? imageLinkTarget(p), !target.isEmpty else {
                    return false
                }
                if target.hasPrefix("/") { resolved = [] }
                pending += target.split(separator: "/").reversed()
            default:
                return false
            }
        }
        return true
    }

    private func underFresh(_ path: String) -> Bool {
        var p = Substring(path)
        while let slash = p.lastIndex(of: "/") {
            p = p[..<slash]
            if fresh.contains(String(p)) { return true }
        }
        return false
    }

    /// Makes every component of `path` a directory, creating what is absent (mode 0755). A
    /// component that exists as something else is replaced only with `replaceOther`; otherwise
    /// the image's entry stays, a warning says so (unless `report` is false), and the result is
    /// false.
    @discardableResult
    mutating func ensureDirectory(_ path: String, replaceOther: Bool, purpose: String, report: Bool = true) -> Bool {
        var prefix = ""
        for component in path.split(separator: "/") {
            let p = prefix.isEmpty ? String(component) : prefix + "/" + component
            prefix = p
            if isDirectory(p) { continue }
            if let t = type(p) {
                let what = t == .symlink ? "a symlink that does not lead to a directory" : "a \(t)"
                guard replaceOther else {
                    guard report else { return false }
                    warnings.append("/\(p) is \(what); left as the image has it, so /\(path) (\(purpose)) was not created")
                    return false
                }
                warnings.append("/\(p) is \(what); replaced by a directory for \(purpose)")
            }
            writer.directory(Array(p.utf8), mode: 0o755, mtime: mtime)
            planned[p] = .directory
            fresh.insert(p)
            written.append(p + "/")
        }
        return true
    }

    /// A regular file in a directory already ensured.
    mutating func file(_ path: String, _ body: String, mode: UInt32, policy: Policy) {
        switch (type(path), policy) {
        case (nil, _):
            break
        case (.directory?, _):
            warnings.append("/\(path) is a directory in the image; imgsync's file was not written there")
            return
        case (_?, .ifAbsent):
            kept.append(path)
            return
        case (_?, .replace):
            replaced.append(path)
        }
        writer.file(Array(path.utf8), Array(body.utf8), mode: mode, mtime: mtime)
        planned[path] = .regular
        written.append(path)
    }

    /// A symlink, only where the image has nothing at that name.
    mutating func symlinkIfAbsent(_ path: String, target: String) {
        guard type(path) == nil else { return }
        writer.symlink(Array(path.utf8), target: Array(target.utf8), mtime: mtime)
        planned[path] = .symlink
        plannedLinks[path] = target
        written.append(path)
    }

    mutating func finish() -> [UInt8] { writer.finish() }
}
