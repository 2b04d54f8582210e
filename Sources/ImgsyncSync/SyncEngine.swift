import Foundation
import ImgsyncCore
import ImgsyncRepository
import ImgsyncRegistry
import Logging

/// One image the list asks for, after glob expansion: what to publish under which name.
public struct SyncTarget: Sendable, Hashable {
    public var name: PublishedName
    public var reference: ImageReference
    public var platform: Platform
    /// Where it came from, e.g. `images.txt:12`.
    public var origin: String
    /// The line says `--platform any`: a single-platform image is taken whatever its platform
    /// (`platform` then only chooses from an index).
    public var acceptAnyPlatform: Bool
    /// Set when the line says `--platform all` but its index could not be read (why): the target
    /// fails with this message, and the name and the platform names published for it before
    /// (`<name>@<platform>`) stay as they are, since its platforms are unknown, not gone.
    public var platformsUnknown: String?
    /// `--cvmfs-variant-symlinks`: the plain name of a multi-platform line is published as a CVMFS
    /// variant symlink to its machine alias `<name>@$(CVMFS_ARCH:-<this>)` (the first listed
    /// platform's `uname -m`). Nil: an ordinary symlink to the tree.
    public var variantDefault: String?

    public init(name: PublishedName, reference: ImageReference, platform: Platform, origin: String, acceptAnyPlatform: Bool = false) {
        self.name = name
        self.reference = reference
        self.platform = platform
        self.origin = origin
        self.acceptAnyPlatform = acceptAnyPlatform
    }

    /// Whether a name published from `recorded` (a `NameRecord.platform`) still serves this target.
    func platformServed(by recorded: String) -> Bool {
        if acceptAnyPlatform { return true }
        guard let p = try? Platform(parsing: recorded) else { return false }
        return p.serves(platform)
    }
}

/// How a sync behaves (the command line's options).
public struct SyncOptions: Sendable {
    public var root: String
    /// Images built at the same time.
    public var jobs = 2
    public var dryRun = false
    /// Remove names even when the list shrank by more than `shrinkLimit` or had bad lines.
    public var force = false
    /// Wait for the repository lock instead of failing.
    public var wait = false
    /// Unpublish names that are not among the targets (false for `imgsync add --sync`, which syncs
    /// one entry of the list).
    public var removeUnlisted = true
    /// The largest fraction of the previous run's list entries that may disappear without `--force`.
    public var shrinkLimit = 0.5
    public var linkMode: LinkMode = .auto
    /// Tree files and directories a+rX on disk (docs/design.md §2; for CVMFS clients, where every user is
    /// "other"). A repository is built with it or without it, never both; without it a run follows
    /// the existing trees.
    public var worldReadable = false
    /// Names keep the registry (the names of the targets were made with this setting). Recorded in
    /// the state; a run with the other value than the repository's is refused unless
    /// `migratePaths` (see `PathSettings`).
    public var keepRegistry = false
    public var migratePaths = false
    /// What the `--platform all` lines of this run offered (`SyncTarget.targets`), recorded in the
    /// state so that the next run reads an unchanged index with a HEAD only.
    public var platformLists: [String: PlatformList] = [:]
    public var limits = LayerLimits()
    public var gzipEngine: GzipEngine = .isal
    /// Shell commands run before the first change and after the last (`cvmfs_server transaction` /
    /// `publish`); only when something changes.
    public var beforeChange: String?
    public var afterChange: String?
    /// The lock file (default `<root>/.imgsync/lock`); outside the root when the root is read-only
    /// between transactions (CVMFS).
    public var lockFile: String?
    /// Whether garbage collection has work to do (a dry run), asked only when a before-change hook is
    /// set and nothing else changes: GC writes the root too, so it needs the transaction.
    public var gcHasWork: (@Sendable (Repository) throws -> Bool)?
    /// Called on the finished tree before it is published (the Apptainer sandbox files); returns
    /// warnings. In-process builds only: a build worker cannot run a closure and adds `sandbox`.
    public var decorate: (@Sendable (ImageBuilder, ResolvedImage) throws -> [String])?
    /// The Apptainer sandbox files as a build worker adds them (set with `decorate` by
    /// `addSandboxMetadata`); nil: none.
    public var sandbox: SandboxSettings?
    /// The `imgsync` executable whose hidden `build-worker` subcommand builds each image in a process
    /// of its own, so that a crash in one build (a trap, a failed allocation) fails only that image
    /// (docs/architecture.md, "Build workers"). nil: images are built in this process.
    public var workerExecutable: String?
    /// Called after names were published and removed and the state was written, still under the
    /// lock (garbage collection, which reads and writes the state itself); returns figures for the report.
    public var afterSync: (@Sendable (Repository) throws -> [String: Int64])?

    public init(root: String) {
        self.root = root
    }
}

/// `imgsync sync`: docs/design.md §3. One instance per run.
public final class SyncEngine: @unchecked Sendable {
    // @unchecked: `options`, `client`, `logger` are immutable; the repository is used for its
    // thread-safe path helpers and by one build at a time per image id (`InFlight`).
    let options: SyncOptions
    let client: RegistryClient
    let logger: Logger
    let repository: Repository
    private let inFlight = InFlight()
    let chainClaims = ChainClaims()
    let progress = ProgressBoard()
    /// The repository's `--world-readable` setting for this run (set in `run` before any build).
    private(set) var worldReadable = false

    public init(options: SyncOptions, client: RegistryClient, logger: Logger) throws {
        self.options = options
        self.client = client
        self.logger = logger
        repository = try Repository(root: options.root)
    }

    /// Runs the sync for `targets` (the expanded list). `listIssues` are the list's bad lines (they
    /// make the run exit 1 and hold back removals); `failedLines` of them produced no image at all
    /// (counted as failed); `listEntries` counts the list's entries for the shrink guard. Throws
    /// only for problems that stop the whole run (lock held, unreadable state, a failing
    /// before-change hook).
    public func run(targets: [SyncTarget], listIssues: [String], failedLines: Int = 0, listEntries: Int,
                    listName: String) async throws -> SyncReport {
        let started = Date()
        var report = SyncReport(root: repository.root, list: listName, started: started)
        report.dryRun = options.dryRun
        report.listIssues = listIssues
        report.failedLines = failedLines
        try repository.lock(wait: options.wait, at: options.lockFile)
        defer { repository.unlock() }
        worldReadable = try repository.effectiveWorldReadable(requested: options.worldReadable)
        var state = try repository.readState()
        // Checked again under the lock (the command checked before expanding the list).
        _ = try PathSettings.keepRegistry(requested: options.keepRegistry, recorded: PathSettings.recordedKeepRegistry(state),
                                          migrate: options.migratePaths, root: repository.root)

        // 1. Which images changed? HEAD only.
        let before = state
        let checks = await boundedMap(targets, limit: max(4, options.jobs * 4)) { target in
            await self.check(target, state: before)
        }
        var results: [ImageResult] = []
        var pending: [(SyncTarget, ImageResult)] = []
        for (target, check) in zip(targets, checks) {
            switch check {
            case .unchanged(let result):
                results.append(result)
                state.names[target.name.description]?.checked = Date()
            case .failed(let result):
                results.append(result)
            case .changed(let result):
                pending.append((target, result))
            }
        }

        // 2. Which names leave?
        let wanted = Set(targets.map(\.name.description))
        let published = repository.publishedNames()
        let platformsUnknown = Set(targets.filter { $0.platformsUnknown != nil }.map(\.name.description))
        var leaving = options.removeUnlisted ? published.map(\.name).filter { name in
            !wanted.contains(name) && !((try? PublishedName(name))?.platformOf.map { platformsUnknown.contains($0.name) } ?? false)
        } : []
        // The shrink guard is a state, not a one-run warning: while removals are held, the
        // recorded list size stays the one from before the shrink, so later runs keep holding them
        // until an operator passes --force or the list grows back (design §3 step 6).
        var removalsHeld = false
        if !leaving.isEmpty && !options.force {
            if !listIssues.isEmpty {
                report.removalHeld = "\(leaving.count) name(s) no longer listed, kept because the list has bad lines (pass --force to remove them anyway)"
                removalsHeld = true
            } else if let before = state.listEntries, before > 0,
                      Double(before - listEntries) > options.shrinkLimit * Double(before) {
                let since = state.removalsHeldSince.map { ", held since \(ISO8601DateFormatter().string(from: $0))" } ?? ""
                report.removalHeld = "\(leaving.count) name(s) no longer listed, kept because the list shrank from \(before) to \(listEntries) entries (more than \(Int(options.shrinkLimit * 100))%\(since); pass --force to remove them)"
                removalsHeld = true
            }
        }
        if removalsHeld {
            report.keptNames = leaving.sorted()
            leaving = []
        }

        if options.dryRun {
            for (_, var result) in pending {
                result.outcome = .wouldChange
                results.append(result)
            }
            report.images = results.sorted { $0.name < $1.name }
            report.removed = leaving.sorted()
            report.seconds = Date().timeIntervalSince(started)
            report.registries = registryTraffic(report.images)
            return report
        }

        // 3. Change: hook, builds, removals, GC, state, hook. With a before-change hook, nothing is
        //    written under the root unless something changes, and then only after the hook ran
        //    (the root may be a CVMFS repository, read-only outside `cvmfs_server transaction`).
        let reshaping = targets.filter { repository.variantDefault(of: $0.name) != $0.variantDefault }
        var willChange = !pending.isEmpty || !leaving.isEmpty || !reshaping.isEmpty
        if !willChange, options.beforeChange != nil, let gcHasWork = options.gcHasWork {
            do { willChange = try gcHasWork(repository) } catch { logger.warning("garbage collection (dry run): \(error)") }
        }
        if !willChange && options.beforeChange != nil {
            logger.info("nothing changed; the before-change hook was not run and nothing under \(repository.root) was written")
            report.rootUntouched = true
            report.images = results.sorted { $0.name < $1.name }
            report.seconds = Date().timeIntervalSince(started)
            report.registries = registryTraffic(report.images)
            return report
        }
        if willChange, let hook = options.beforeChange {
            try runHook(hook, what: "before-change")
            // Now writable: the layout of a repository that starts empty (nothing could be created
            // before the hook), and what an interrupted run left (it could not be removed at lock time).
            try repository.createLayout()
            repository.cleanStaging()
        }
        progress.begin(total: pending.count)
        let display = progress.display()
        // Each image's record is written as soon as its name points to the new tree, so a run
        // killed midway leaves a state that knows what it published (issue 10 item 16).
        let journal = StateJournal(state, repository: repository)
        let built = await boundedMap(pending, limit: max(1, options.jobs)) { p in
            let b = await self.build(p.0, p.1)
            if let record = b.record {
                do {
                    try journal.update { $0.names[p.0.name.description] = record }
                } catch {
                    self.logger.warning("\(p.0.name): published, but the sync state could not be written yet: \(error)")
                }
            }
            self.progress.finished(p.0.name.description)
            return b
        }
        display?.cancel()
        await display?.value
        state = journal.current
        for b in built {
            results.append(b.result)
        }
        // Plain names whose symlink shape (ordinary or CVMFS variant) is not the one asked for;
        // before the removals, so no variant symlink is left leading to a removed alias.
        let failed = Set(results.filter { $0.outcome == .failed }.map(\.name))
        for target in targets where !failed.contains(target.name.description) {
            reshape(target)
        }
        for name in leaving where !leadsFromVariant(name) {
            do {
                try repository.unpublish(try PublishedName(name))
                state.names.removeValue(forKey: name)
                report.removed.append(name)
                logger.info("removed \(name): no longer listed")
            } catch {
                report.removalErrors.append("\(name): \(error)")
            }
        }
        if options.removeUnlisted {
            if removalsHeld {
                if state.removalsHeldSince == nil { state.removalsHeldSince = Date() }
            } else {
                state.listEntries = listEntries
                state.removalsHeldSince = nil
            }
        }
        state.lastSync = Date()
        if options.removeUnlisted || state.keepRegistry == nil { state.keepRegistry = options.keepRegistry }
        if options.removeUnlisted {
            state.platformLists = options.platformLists.isEmpty ? nil : options.platformLists
        } else if !options.platformLists.isEmpty {
            state.platformLists = (state.platformLists ?? [:]).merging(options.platformLists) { $1 }
        }
        try repository.writeState(state)
        if let after = options.afterSync {
            do {
                report.gc = try after(repository)
            } catch {
                logger.warning("garbage collection: \(error)")
            }
        }
        report.images = results.sorted { $0.name < $1.name }
        if willChange, let hook = options.afterChange {
            do { try runHook(hook, what: "after-change") } catch { report.hookErrors.append("\(error)") }
        }
        report.seconds = Date().timeIntervalSince(started)
        report.registries = registryTraffic(report.images)
        return report
    }

    // MARK: variant symlinks

    /// Gives `target.name` the shape it asks for (`SyncTarget.variantDefault`): a CVMFS variant
    /// symlink only when its default alias points to the same tree as the name, else an ordinary
    /// symlink to the tree the name has now (for a variant symlink, its default alias's).
    func reshape(_ target: SyncTarget) {
        let name = target.name
        let current = repository.variantDefault(of: name)
        guard current != target.variantDefault, let tree = repository.imageID(of: name) else { return }
        do {
            if let machine = target.variantDefault {
                guard repository.imageID(of: try name.machineAlias(machine)) == tree else {
                    logger.warning("\(name): left an ordinary symlink: its alias @\(machine) does not point to its tree")
                    return
                }
                try repository.linkVariant(name, defaultMachine: machine)
                logger.info("\(name): now a CVMFS variant symlink (default \(machine))")
            } else {
                try repository.link(name, to: tree)
                logger.info("\(name): now an ordinary symlink")
            }
        } catch {
            logger.warning("\(name): cannot change its symlink: \(error)")
        }
    }

    /// Whether `name` is a machine alias whose plain name is (still, after `reshape`) a variant
    /// symlink: it stays, so that the plain name keeps leading somewhere (a plain name that failed
    /// this run keeps its shape).
    func leadsFromVariant(_ name: String) -> Bool {
        guard let n = try? PublishedName(name), n.isMachineAlias, let plain = n.platformOf?.name,
              let p = try? PublishedName(plain) else { return false }
        return repository.variantDefault(of: p) != nil
    }

    // MARK: checking

    enum Check: Sendable {
        case unchanged(ImageResult)
        case changed(ImageResult)
        case failed(ImageResult)
    }

    func newResult(_ target: SyncTarget) -> ImageResult {
        var r = ImageResult(name: target.name.description, reference: target.reference.description, origin: target.origin, outcome: .failed)
        r.platform = target.platform.description
        return r
    }

    /// HEAD the tag; unchanged when it still names what is published and the tree is intact.
    func check(_ target: SyncTarget, state: RepositoryState) async -> Check {
        var result = newResult(target)
        if let unknown = target.platformsUnknown {
            result.error = unknown
            return .failed(result)
        }
        let head: ManifestHead
        do {
            head = try await client.headManifest(target.reference)
        } catch {
            result.error = describe(error)
            result.errorCode = (error as? ImgsyncError)?.code.description
            // Printed once, in the summary ("failed: …"); here only for --log-level debug.
            logger.debug("\(target.name) (\(target.origin)): \(result.error!)")
            return .failed(result)
        }
        result.digest = head.digest.description
        if let record = state.names[target.name.description],
           record.digest == head.digest,
           target.platformServed(by: record.platform),
           repository.imageID(of: target.name) == record.imageID,
           intact(record.imageID) {
            result.outcome = .unchanged
            result.imageID = record.imageID.description
            return .unchanged(result)
        }
        return .changed(result)
    }

    /// The tree and its catalog exist (full checking is `imgsync verify`).
    func intact(_ imageID: Digest) -> Bool {
        var st = stat()
        return lstat(repository.imagePath(imageID), &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
            && FileManager.default.fileExists(atPath: repository.imageCatalogPath(imageID))
    }

    // MARK: building

    struct Built: Sendable {
        var result: ImageResult
        var record: NameRecord?
    }

    func build(_ target: SyncTarget, _ initial: ImageResult) async -> Built {
        var result = initial
        let start = Date()
        let wasPublished = repository.imageID(of: target.name)
        do {
            let image = try await client.resolve(target.reference, platform: target.platform, acceptAnyPlatform: target.acceptAnyPlatform)
            let imageID = image.configDescriptor.digest
            result.digest = image.digest.description
            result.imageID = imageID.description
            result.platform = (image.platform ?? target.platform).description
            guard image.layers.count == image.config.diffIDs.count else {
                throw ImgsyncError(.manifest, "the manifest lists \(image.layers.count) layers but the config has \(image.config.diffIDs.count) DiffIDs")
            }
            result = try await inFlight.run(imageID) { [result] () async throws -> ImageResult in
                var built = result
                if self.intact(imageID) {
                    try self.repository.link(target.name, to: imageID)
                    self.logger.info("\(target.name): points to the already built image \(imageID)")
                    return built
                }
                do {
                    try await self.buildTree(target, image, into: &built)
                } catch let corrupt as CorruptDownload {
                    // Once more from scratch (the failed build left nothing behind); a second
                    // corrupt download is the image's error.
                    self.logger.warning("\(target.name): \(corrupt.error); downloading it again")
                    built = result
                    do {
                        try await self.buildTree(target, image, into: &built)
                    } catch let again as CorruptDownload {
                        throw again.error
                    }
                }
                return built
            }
            result.outcome = wasPublished == nil ? .added : .updated
            result.seconds = Date().timeIntervalSince(start)
            let record = NameRecord(
                name: target.name.description, reference: target.reference.description, digest: image.digest,
                manifestDigest: image.manifestDigest, manifestMediaType: image.manifestMediaType, imageID: imageID,
                platform: (image.platform ?? target.platform).description, published: Date(), checked: Date())
            logger.info("\(target.name): \(result.outcome.rawValue) (\(imageID), \(result.layersFetched) layer(s) fetched, \(result.layersReused) reused)")
            return Built(result: result, record: record)
        } catch {
            result.outcome = .failed
            result.error = describe(error)
            result.errorCode = (error as? ImgsyncError)?.code.description
            result.seconds = Date().timeIntervalSince(start)
            // Printed once, in the summary ("failed: …"); here only for --log-level debug.
            logger.debug("\(target.name) (\(target.origin)): \(result.error!)")
            return Built(result: result, record: nil)
        }
    }

    /// Builds the tree: the longest known chain, then the missing layers streamed from the registry
    /// straight into the layer engine, then the sandbox files, then publish.
    /// Records layers fetched and reused, bytes and objects in `result`.
    func buildTree(_ target: SyncTarget, _ image: ResolvedImage, into result: inout ImageResult) async throws {
        let options = self.options
        if let executable = options.workerExecutable {
            try await buildTreeInWorker(target, image, executable: executable, into: &result)
            return
        }
        let builder = Locked(try ImageBuilder(repository: repository, linkMode: options.linkMode, worldReadable: worldReadable,
                                                limits: options.limits, gzipEngine: options.gzipEngine))
        let diffIDs = image.config.diffIDs
        let chains = ChainID.chain(diffIDs)
        let claim = await claimChains(chains)
        defer { claim.releaseAll() }
        var reused = 0
        if let (k, catalog) = try repository.longestKnownChain(diffIDs) {
            for chain in chains[..<k] { claim.release(chain) }
            try await onDedicatedThread(name: "imgsync-load") {
                try builder.value.start(from: catalog, diffIDs: Array(diffIDs[0..<k]))
            }
            reused = k
        }
        result.layersReused = reused
        for i in reused..<image.layers.count {
            let descriptor = image.layers[i]
            let mediaType = try LayerMediaType(descriptor.mediaType)
            // Errors print it after "layer ": "layer 2/3 sha256:…, entry …".
            let label = "\(i + 1)/\(image.layers.count) \(descriptor.digest)"
            logger.info("\(target.name): fetching layer \(label) (\(ByteCount.format(descriptor.size)))")
            let bridge = BlobBridge()
            progress.layer(target.name.description, i + 1, of: image.layers.count, size: descriptor.size, bridge: bridge)
            let feeder = feed(client.fetchBlob(target.reference, descriptor: descriptor), into: bridge)
            // The blob digest and size are checked by BlobStream while it streams (no second hash
            // here); the DiffID is checked by the pipeline against the config.
            let expect = LayerExpectations(compression: mediaType.compression, diffID: diffIDs[i])
            do {
                _ = try await onDedicatedThread(name: "imgsync-apply") {
                    try builder.value.apply(LayerInput(source: bridge, name: label, expect: expect))
                }
            } catch {
                let maybeCorruptDownload = Self.isLayerContentError(error)
                bridge.cancel(drain: maybeCorruptDownload)
                if !maybeCorruptDownload { feeder.cancel() }
                if let download = await feeder.value as? ImgsyncError,
                   download.code == .digestMismatch || download.code == .sizeMismatch {
                    // The bytes were not the blob: a transport error, worth a fresh download.
                    var named = download
                    named.layer = label
                    throw CorruptDownload(error: named)
                }
                throw error
            }
            _ = await feeder.value
            claim.release(chains[i])
            result.layersFetched += 1
            result.bytesFetched += descriptor.size
        }
        if let decorate = options.decorate {
            result.warnings += try await onDedicatedThread(name: "imgsync-sandbox") { try decorate(builder.value, image) }
        }
        let name = target.name
        let imageID = image.configDescriptor.digest
        _ = try await onDedicatedThread(name: "imgsync-publish") {
            try builder.value.publish(as: name, imageID: imageID)
        }
        result.warnings += builder.value.warnings
        result.objectsAdded = builder.value.objectsAdded
        result.bytesAdded = builder.value.bytesAdded
        result.bodiesDeduplicated = builder.value.bodiesReused
        result.bytesDeduplicated = builder.value.bytesReused
        result.unreadableByOthers = builder.value.unreadableByOthers
    }

    /// Waits while another build of this run makes the first of `chains` not known yet, then
    /// claims the chains this build will make (`ChainClaims`).
    func claimChains(_ chains: [Digest]) async -> ChainClaims.Claim {
        await chainClaims.claim(chains) { FileManager.default.fileExists(atPath: repository.chainCatalogPath($0)) }
    }

    /// Streams `blob` into `bridge`; the task returns the download's own error, if it had one.
    func feed(_ blob: BlobStream, into bridge: BlobBridge) -> Task<(any Error)?, Never> {
        Task { () -> (any Error)? in
            do {
                var delivering = true
                for try await chunk in blob where delivering {
                    if await !bridge.push(chunk) {
                        // The layer failed. When asked, read on to the end: the stream then
                        // checks the digest (a byte flipped in transit looks like a bad layer).
                        guard bridge.isDraining else { return nil }
                        delivering = false
                    }
                }
                bridge.finish(error: nil)
                return nil
            } catch {
                bridge.finish(error: error)
                return error
            }
        }
    }

    // MARK: helpers

    /// The client's figures per registry, with the images each stopped registry left unsynced
    /// (those that failed because the registry was no longer asked, or kept rate-limiting).
    func registryTraffic(_ images: [ImageResult]) -> [String: RegistryTraffic] {
        var traffic = client.traffic
        let stopCodes: Set<String> = [ImgsyncError.Code.budgetSpent.description, ImgsyncError.Code.rateLimited.description]
        for (registry, entry) in traffic where entry.stopped != nil {
            traffic[registry]!.imagesNotSynced = images.filter { image in
                image.outcome == .failed && stopCodes.contains(image.errorCode ?? "")
                    && (try? ImageReference(parsing: image.reference))?.registry == registry
            }.count
        }
        return traffic
    }

    func describe(_ error: any Error) -> String {
        if let e = error as? ImgsyncError { return e.description }
        return "\(error)"
    }

    /// Errors a layer's content causes (it does not parse, breaks a rule or a limit): when such an
    /// error stops a layer, the rest of the blob is still read so that its digest tells a corrupt
    /// download (retried) from a bad layer (the image's error).
    static func isLayerContentError(_ error: any Error) -> Bool {
        guard let e = error as? ImgsyncError else { return false }
        let content: [ImgsyncError.Code] = [.tarFormat, .truncated, .decompress, .mediaType, .limit, .traversal, .rootType,
                                            .invalidWhiteout, .hardlinkTarget, .hardlinkDir, .loop, .nameTooLong]
        return content.contains(e.code)
    }

    func runHook(_ command: String, what: String) throws {
        try ChangeHooks.run(command, what: what, root: repository.root) { logger.info("\($0)") }
    }
}

/// A layer failed and its download did not match its digest: the build is retried once.
struct CorruptDownload: Error {
    let error: ImgsyncError
}

/// The sync state while builds run concurrently: every update is written to `state.json` at once
/// (atomically: temporary file, fsync, rename), under a lock so that writes never interleave.
final class StateJournal: @unchecked Sendable {
    // @unchecked: `state` is only touched under `lock`.
    private let lock = NSLock()
    private var state: RepositoryState
    private let repository: Repository

    init(_ state: RepositoryState, repository: Repository) {
        self.state = state
        self.repository = repository
    }

    var current: RepositoryState { lock.withLock { state } }

    func update(_ change: (inout RepositoryState) -> Void) throws {
        try lock.withLock {
            change(&state)
            try repository.writeState(state)
        }
    }
}

/// Holds a non-Sendable value that is used by one task at a time (each build hands its
/// `ImageBuilder` from step to step, never concurrently).
final class Locked<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// One build per image id at a time: a second tag of an image being built waits and then finds the
/// tree published instead of building it again.
actor InFlight {
    private var busy: Set<Digest> = []
    private var waiters: [Digest: [CheckedContinuation<Void, Never>]] = [:]

    func run<R: Sendable>(_ id: Digest, _ body: @Sendable () async throws -> R) async throws -> R {
        while busy.contains(id) {
            await withCheckedContinuation { waiters[id, default: []].append($0) }
        }
        busy.insert(id)
        defer {
            busy.remove(id)
            for w in waiters.removeValue(forKey: id) ?? [] { w.resume() }
        }
        return try await body()
    }
}

/// Maps with at most `limit` tasks at once, keeping the input order; `transform` must not throw.
func boundedMap<T: Sendable, R: Sendable>(_ items: [T], limit: Int, _ transform: @escaping @Sendable (T) async -> R) async -> [R] {
    await withTaskGroup(of: (Int, R).self) { group in
        var out = [R?](repeating: nil, count: items.count)
        var next = 0
        for _ in 0..<min(max(1, limit), items.count) {
            let i = next, item = items[i]
            group.addTask { (i, await transform(item)) }
            next += 1
        }
        while let (i, r) = await group.next() {
            out[i] = r
            if next < items.count {
                let j = next, item = items[j]
                group.addTask { (j, await transform(item)) }
                next += 1
            }
        }
        return out.map { $0! }
    }
}
