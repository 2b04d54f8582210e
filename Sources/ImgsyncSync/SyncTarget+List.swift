import ImgsyncCore
import ImgsyncRegistry
import ImgsyncRepository

extension SyncTarget {
    /// The sync targets of a parsed list: globs expanded through `tags/list`, names assigned, each
    /// entry's platform (or `defaultPlatform`). Returns the list's own issues plus expansion issues
    /// as `file:line: reason` lines, and how many lines with an issue produced no image at all (a
    /// bad line, a pattern whose tags could not be listed or that matches nothing): a sync counts
    /// those as failed. For `--platform all` lines, `knownPlatforms` (the repository's
    /// `platformLists`) saves the GET of an index whose digest a HEAD shows unchanged; the lists
    /// read or confirmed are returned for the sync to record.
    public static func targets(
        of list: ImageList, keepRegistry: Bool, defaultPlatform: Platform, client: RegistryClient, variantSymlinks: Bool = false,
        knownPlatforms: [String: PlatformList] = [:]
    ) async -> (targets: [SyncTarget], issues: [String], failedLines: Int, platformLists: [String: PlatformList]) {
        let (listed, expandIssues) = await ImageList.expand(list, keepRegistry: keepRegistry) { registry, repository in
            try await client.listTags(registry: registry, repository: repository)
        }
        var issues = (list.issues + expandIssues).map(\.description)
        var targets: [SyncTarget] = []
        var linesWithImages: Set<Int> = []
        var linesWithIssues = Set((list.issues + expandIssues).map(\.line))
        // `--platform all`: the index is read first, a few at a time.
        let everyPlatform = listed.filter { $0.platform == PlatformRequest.allKeyword }.map(\.reference)
        let offered = await boundedMap(everyPlatform, limit: 8) { reference in
            await Result.capturing { try await client.platforms(of: reference, known: knownPlatforms[reference.description]) }
        }
        var platformLists: [String: PlatformList] = [:]
        for (reference, offer) in zip(everyPlatform, offered) {
            if case .success(let (list, _)) = offer { platformLists[reference.description] = list }
        }
        var offers = Dictionary(zip(everyPlatform, offered.map { $0.map { $0.platforms } }), uniquingKeysWith: { a, _ in a })
        for image in listed {
            let origin = "\(list.source):\(image.line)"
            func issue(_ message: String) {
                issues.append("\(origin): \(message)")
                linesWithIssues.insert(image.line)
            }
            let request: PlatformRequest
            do {
                request = try PlatformRequest(image.platform, default: defaultPlatform)
            } catch {
                issue("\(error)")
                continue
            }
            var made: [SyncTarget]
            switch request {
            case .one(let platform, let acceptAny):
                made = [SyncTarget(name: image.name, reference: image.reference, platform: platform, origin: origin, acceptAnyPlatform: acceptAny)]
            case .several(let platforms):
                made = platformTargets(image, platforms, plain: platforms[0], origin: origin, variantSymlinks: variantSymlinks, issue: issue)
            case .all:
                switch offers.removeValue(forKey: image.reference) ?? .success([]) {
                case .failure(let error):
                    // Its platforms are unknown, not gone: the names published before stay.
                    var target = SyncTarget(name: image.name, reference: image.reference, platform: defaultPlatform, origin: origin)
                    target.platformsUnknown = "cannot read the platforms of \(image.reference): \((error as? ImgsyncError)?.description ?? "\(error)")"
                    made = [target]
                case .success(let platforms) where platforms.isEmpty:
                    // A single-platform image whose config names no platform: the plain name only.
                    made = [SyncTarget(name: image.name, reference: image.reference, platform: defaultPlatform, origin: origin, acceptAnyPlatform: true)]
                case .success(let platforms):
                    let plain = platforms.first { $0.matches(defaultPlatform) } ?? platforms[0]
                    made = platformTargets(image, platforms, plain: plain, origin: origin, variantSymlinks: variantSymlinks, issue: issue)
                }
            }
            targets += made
            if !made.isEmpty { linesWithImages.insert(image.line) }
        }
        return (targets, issues, linesWithIssues.subtracting(linesWithImages).count, platformLists)
    }

    /// The targets of a multi-platform line: the plain name for `plain`, and each platform under its
    /// platform name (`PublishedName.platformName`). A platform that cannot be named is an issue.
    /// With `variantSymlinks`, also one machine alias per `uname -m` (`machineAliases`), and the
    /// plain name is a CVMFS variant symlink defaulting to `plain`'s machine (when it has one).
    static func platformTargets(_ image: ListedImage, _ platforms: [Platform], plain: Platform, origin: String,
                                variantSymlinks: Bool = false, issue: (String) -> Void) -> [SyncTarget] {
        var made = [SyncTarget(name: image.name, reference: image.reference, platform: plain, origin: origin)]
        for platform in platforms {
            do {
                guard let suffix = platform.pathSuffix else {
                    throw ImgsyncError(.invalidArgument, "its os, architecture or variant holds characters other than a-z, 0-9, . and _")
                }
                made.append(SyncTarget(name: try image.name.platformName(suffix), reference: image.reference, platform: platform, origin: origin))
            } catch {
                issue("platform \(platform) of \(image.reference) cannot be published: \(ImageList.message(error))")
            }
        }
        guard variantSymlinks else { return made }
        for (machine, platform) in machineAliases(platforms, plain: plain) {
            guard let alias = try? image.name.machineAlias(machine) else { continue }
            made.append(SyncTarget(name: alias, reference: image.reference, platform: platform, origin: origin))
            if plain.unameMachine == machine { made[0].variantDefault = machine }
        }
        return made
    }

    /// The platform each machine alias (`uname -m`: `Platform.unameMachine`) of a line stands
    /// for, in the order of `platforms`: `plain` for its own machine, else the canonical variant
    /// (`arm64/v8`, `amd64` without one), else the first listed.
    static func machineAliases(_ platforms: [Platform], plain: Platform) -> [(machine: String, platform: Platform)] {
        var out: [(machine: String, platform: Platform)] = []
        for platform in platforms {
            guard let machine = platform.unameMachine, !out.contains(where: { $0.machine == machine }) else { continue }
            let same = platforms.filter { $0.unameMachine == machine }
            let chosen = same.first { $0.matches(plain) }
                ?? same.first { $0.variant == (machine == "aarch64" ? "v8" : nil) }
                ?? same[0]
            out.append((machine, chosen))
        }
        return out
    }
}

extension RegistryClient {
    /// The platforms `reference` offers, for `--platform all`: an index's (`PlatformSelector.platforms`,
    /// in index order), or the one a single-platform image's config names (none when it names none).
    /// Throws when the index offers no platform image.
    public func platforms(of reference: ImageReference) async throws -> [Platform] {
        try await offeredPlatforms(reference).platforms
    }

    /// The same with the digest the tag points to; when `known` was read at the digest a HEAD
    /// finds now, its platforms are taken without a GET (a registry such as Docker Hub counts
    /// manifest GETs against its pull limit, not HEADs).
    public func platforms(of reference: ImageReference, known: PlatformList?) async throws -> (list: PlatformList, platforms: [Platform]) {
        if let known, let platforms = try? known.platforms.map(Platform.init(parsing:)),
           try await headManifest(reference).digest == known.digest {
            return (known, platforms)
        }
        let (digest, platforms) = try await offeredPlatforms(reference)
        return (PlatformList(digest: digest, platforms: platforms.map(\.description)), platforms)
    }

    private func offeredPlatforms(_ reference: ImageReference) async throws -> (digest: Digest, platforms: [Platform]) {
        let top = try await fetchManifest(reference)
        guard case .index(let index, _) = top.document else {
            return (top.digest, try await resolve(reference, acceptAnyPlatform: true).platform.map { [$0] } ?? [])
        }
        let platforms = PlatformSelector.platforms(in: index)
        if platforms.isEmpty {
            throw PlatformSelector.noMatch(reference.description, platform: .linuxAMD64, available: [])
        }
        return (top.digest, platforms)
    }

    /// Resolves `reference` for every platform `request` names (for `all`, every one it offers), in
    /// order, as `imgsync add` and `imgsync check` verify a line: the first that fails throws (a
    /// missing platform names the image, the platform and what the index has).
    public func resolve(_ reference: ImageReference, for request: PlatformRequest) async throws -> [ResolvedImage] {
        switch request {
        case .one(let platform, let acceptAny):
            return [try await resolve(reference, platform: platform, acceptAnyPlatform: acceptAny)]
        case .several(let platforms):
            var out: [ResolvedImage] = []
            for platform in platforms { out.append(try await resolve(reference, platform: platform)) }
            return out
        case .all:
            let platforms = try await self.platforms(of: reference)
            if platforms.isEmpty { return [try await resolve(reference, acceptAnyPlatform: true)] }
            var out: [ResolvedImage] = []
            for platform in platforms { out.append(try await resolve(reference, platform: platform)) }
            return out
        }
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
