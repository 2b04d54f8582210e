import ImgsyncCore
import ImgsyncRegistry
import ImgsyncRepository

extension SyncTarget {
    /// The sync targets of a parsed list: globs expanded through `tags/list`, names assigned, each
    /// entry's platform (or `defaultPlatform`). Returns the list's own issues plus expansion issues
    /// as `file:line: reason` lines, and how many lines with an issue produced no image at all (a
    /// bad line, a pattern whose tags could not be listed or that matches nothing): a sync counts
    /// those as failed.
    public static func targets(
        of list: ImageList, keepRegistry: Bool, defaultPlatform: Platform, client: RegistryClient
    ) async -> (targets: [SyncTarget], issues: [String], failedLines: Int) {
        let (listed, expandIssues) = await ImageList.expand(list, keepRegistry: keepRegistry) { registry, repository in
            try await client.listTags(registry: registry, repository: repository)
        }
        var issues = (list.issues + expandIssues).map(\.description)
        var targets: [SyncTarget] = []
        var linesWithImages: Set<Int> = []
        var linesWithIssues = Set((list.issues + expandIssues).map(\.line))
        for image in listed {
            do {
                let (platform, acceptAny) = try Platform.request(image.platform, default: defaultPlatform)
                targets.append(SyncTarget(name: image.name, reference: image.reference, platform: platform,
                                          origin: "\(list.source):\(image.line)", acceptAnyPlatform: acceptAny))
                linesWithImages.insert(image.line)
            } catch {
                issues.append("\(list.source):\(image.line): \(error)")
                linesWithIssues.insert(image.line)
            }
        }
        return (targets, issues, linesWithIssues.subtracting(linesWithImages).count)
    }
}

extension SyncTarget {
    /// For a partial sync (some entries of the list): leaves out the targets whose name is
    /// published from another reference or for another platform. Another line of the list may own
    /// that name (two registries, a tag and a digest), and only a full sync, which names every line,
    /// may decide who keeps it. Returns the rest and one `origin: …` issue per target left out.
    public static func leavingOthersAlone(_ targets: [SyncTarget], state: RepositoryState?) -> (targets: [SyncTarget], issues: [String]) {
        var kept: [SyncTarget] = []
        var issues: [String] = []
        for target in targets {
            if let record = state?.names[target.name.description],
               record.reference != target.reference.description || !target.platformServed(by: record.platform) {
                issues.append("\(target.origin): \(target.name) is published from \(record.reference) (\(record.platform)); left to the next full sync")
            } else {
                kept.append(target)
            }
        }
        return (kept, issues)
    }
}

extension SyncOptions {
    /// Adds the Apptainer sandbox files to every tree built (docs/design.md §2).
    public mutating func addSandboxMetadata(cvmfsCatalog: Bool = false) {
        sandbox = SandboxSettings(cvmfsCatalog: cvmfsCatalog)
        decorate = { builder, image in
            try SandboxMetadata.add(
                to: builder, config: image.config, reference: image.reference.description, architecture: image.sandboxArchitecture,
                options: .init(manifestDigest: image.manifestDigest.description, cvmfsCatalog: cvmfsCatalog))
        }
    }
}

/// Which sandbox files each tree gets (`SyncOptions.addSandboxMetadata`).
public struct SandboxSettings: Sendable, Codable {
    public var cvmfsCatalog: Bool

    public init(cvmfsCatalog: Bool = false) {
        self.cvmfsCatalog = cvmfsCatalog
    }
}

extension ResolvedImage {
    /// The architecture the sandbox files name, e.g. `amd64`.
    var sandboxArchitecture: String {
        platform?.architecture ?? config.architecture ?? "amd64"
    }
}

extension ImageList {
    /// The list reduced to the entry on `line` (for `imgsync add --sync`).
    public func only(line: Int) -> ImageList {
        only(lines: [line])
    }

    /// The list reduced to the entries on `lines` (a partial sync: `imgsync serve` after a push).
    /// A sync of it must not unpublish anything (`SyncOptions.removeUnlisted` false): the other
    /// entries were not looked at.
    public func only(lines: Set<Int>) -> ImageList {
        ImageList(source: source, entries: entries.filter { lines.contains($0.line) },
                  issues: issues.filter { lines.contains($0.line) }, lineCount: lineCount)
    }
}
