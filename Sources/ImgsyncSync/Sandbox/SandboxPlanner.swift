import ImgsyncCore

/// Decides, path by path, what the generated tar adds to an image tree, and writes it.
///
/// What the image has is asked through `existing` (the type at a path, a final symlink not
/// followed; `path + "/."` is `.directory` when the path leads to a directory). What this planner
/// already added is kept beside it, so that later decisions see earlier ones.
struct SandboxPlanner {
    enum Policy {
        /// Written whatever the image has there (a directory excepted).
        case replace
        /// Written only where the image has nothing.
        case ifAbsent
    }

    let existing: (String) -> CatalogEntryType?
    let mtime: Int64
    private(set) var writer = TarWriter()
    private(set) var warnings: [String] = []
    /// Paths added to the tar, in order (for the caller's log and for tests).
    private(set) var written: [String] = []
    /// Files of the image that were kept where imgsync has a file of its own.
    private(set) var kept: [String] = []
    private var planned: [String: CatalogEntryType] = [:]
    /// Directories this planner creates or replaces: nothing of the image is below them.
    private var fresh: Set<String> = []

    init(existing: @escaping (String) -> CatalogEntryType?, mtime: Int64) {
        self.existing = existing
        self.mtime = mtime
    }

    func type(_ path: String) -> CatalogEntryType? {
        if let t = planned[path] { return t }
        return underFresh(path) ? nil : existing(path)
    }

    func isDirectory(_ path: String) -> Bool {
        if planned[path] == .directory { return true }
        return !underFresh(path) && existing(path + "/.") == .directory
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
    /// the image's entry stays, a warning says so, and the result is false.
    @discardableResult
    mutating func ensureDirectory(_ path: String, replaceOther: Bool, purpose: String) -> Bool {
        var prefix = ""
        for component in path.split(separator: "/") {
            let p = prefix.isEmpty ? String(component) : prefix + "/" + component
            prefix = p
            if isDirectory(p) { continue }
            if let t = type(p) {
                let what = t == .symlink ? "a symlink that does not lead to a directory" : "a \(t)"
                guard replaceOther else {
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
            break
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
        written.append(path)
    }

    mutating func finish() -> [UInt8] { writer.finish() }
}
