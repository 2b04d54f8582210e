import ImgsyncCore
import ImgsyncRepository
import ImgsyncRegistry

/// A concrete image the list asks for: what to publish, under which name, from which line.
public struct ListedImage: Sendable, Hashable {
    /// Where it is published (`htc/rocky:9`).
    public let name: PublishedName
    /// The concrete reference (a tag, or a digest), never a pattern.
    public let reference: ImageReference
    /// The platform given on the line, if any (else the sync's default applies).
    public let platform: String?
    /// The list line it came from.
    public let line: Int
    /// The pattern it was expanded from, if any.
    public let pattern: TagPattern?
}

/// Lists the tags of `repository` on `registry` (in production `RegistryClient.listTags`).
public typealias TagLister = @Sendable (_ registry: String, _ repository: String) async throws -> [String]

extension ImageList {
    /// Expands tag patterns and names every image.
    ///
    /// Each repository with a pattern is listed once (at most `concurrency` listings at a time); its
    /// matching tags become images in byte order. A failed listing or a pattern that matches nothing is
    /// an issue for that line only. Then published names are assigned; when two lines publish the same
    /// name with a different image (same repository on two registries, a tag and a digest, two
    /// platforms) the earlier line keeps the name and the later one gets an issue naming both lines.
    /// The same reference reached twice (a glob and an explicit tag, or overlapping globs) is one image.
    ///
    /// The returned issues are only the expansion's; `list.issues` still holds the parse issues. An
    /// issue for a failed listing carries the entry (`failedEntry`): a sync must not unpublish the
    /// names that pattern published before, since its tags are unknown rather than gone.
    public static func expand(
        _ list: ImageList, keepRegistry: Bool, concurrency: Int = 8, lister: @escaping TagLister
    ) async -> (images: [ListedImage], issues: [ImageListIssue]) {
        var issues: [ImageListIssue] = []
        func issue(_ line: Int, _ message: String, failed: ImageListEntry? = nil) {
            issues.append(ImageListIssue(source: list.source, line: line, message: message, failedEntry: failed))
        }
        let tags = await listAll(list.entries.filter(\.isPattern), concurrency: concurrency, lister: lister)

        var candidates: [(reference: ImageReference, entry: ImageListEntry)] = []
        for entry in list.entries {
            guard let pattern = entry.pattern else {
                candidates.append((entry.reference, entry))
                continue
            }
            let repository = "\(entry.reference.registry)/\(entry.reference.repository)"
            switch tags[RepositoryKey(entry.reference)] {
            case .some(.failure(let error)):
                issue(entry.line, "cannot list the tags of \(repository) to expand \"\(pattern)\": \(Self.message(error))", failed: entry)
            case .some(.success(let all)):
                let matched = pattern.filter(all.filter(TagName.isValid))
                if matched.isEmpty {
                    issue(entry.line, "tag pattern \"\(pattern)\" matches none of the \(all.count) tags of \(repository)")
                }
                for tag in matched {
                    guard let reference = try? entry.reference.withTag(tag) else { continue }
                    candidates.append((reference, entry))
                }
            case .none:
                issue(entry.line, "internal error: the tags of \(repository) were not listed")
            }
        }

        var images: [ListedImage] = []
        var owner: [PublishedName: ListedImage] = [:]
        for (reference, entry) in candidates {
            let name: PublishedName
            do {
                name = try reference.publishedName(keepRegistry: keepRegistry)
            } catch {
                issue(entry.line, "\(reference) cannot be published: \(Self.message(error))")
                continue
            }
            let image = ListedImage(name: name, reference: reference, platform: entry.platform, line: entry.line, pattern: entry.pattern)
            if let first = owner[name] {
                if first.reference == reference && first.platform == entry.platform { continue }
                let what = entry.isPattern ? "\(reference) (from \"\(entry.text)\")" : "\(reference)"
                let platforms = first.reference == reference
                    ? " with platform \(entry.platform ?? "default") instead of \(first.platform ?? "default")" : ""
                issue(entry.line, "\(what) would publish as \(name)\(platforms), which line \(first.line) (\(first.reference)) already publishes; this image is skipped")
                continue
            }
            owner[name] = image
            images.append(image)
        }
        // Stable: issues of one line keep their order.
        let ordered = issues.enumerated().sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }.map(\.element)
        return (images, ordered)
    }

    struct RepositoryKey: Hashable, Sendable, Comparable {
        var registry: String
        var repository: String
        init(_ reference: ImageReference) {
            registry = reference.registry
            repository = reference.repository
        }
        static func < (a: Self, b: Self) -> Bool { (a.registry, a.repository) < (b.registry, b.repository) }
    }

    /// Lists every repository of `entries` once, `concurrency` at a time.
    static func listAll(
        _ entries: [ImageListEntry], concurrency: Int, lister: @escaping TagLister
    ) async -> [RepositoryKey: Result<[String], any Error>] {
        let keys = Set(entries.map { RepositoryKey($0.reference) }).sorted()
        var results: [RepositoryKey: Result<[String], any Error>] = [:]
        await withTaskGroup(of: (RepositoryKey, Result<[String], any Error>).self) { group in
            var pending = keys.makeIterator()
            func start(_ key: RepositoryKey) {
                group.addTask {
                    // Not `return (key, .success(try await …))` inside do/catch: see `Result.capturing`.
                    let result = await Result.capturing { try await lister(key.registry, key.repository) }
                    return (key, result)
                }
            }
            for _ in 0..<max(1, concurrency) {
                guard let key = pending.next() else { break }
                start(key)
            }
            while let (key, result) = await group.next() {
                results[key] = result
                if let next = pending.next() { start(next) }
            }
        }
        return results
    }

    /// An error's message without the `[code]` suffix of `ImgsyncError.description`.
    static func message(_ error: any Error) -> String {
        (error as? ImgsyncError)?.message ?? "\(error)"
    }
}
