#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// What one GC run did (or, with `dryRun`, would do).
public struct GCReport: Codable, Sendable {
    public var dryRun = false
    /// Trees seen without a name for the first time in this run (their grace period starts now).
    public var newlyUnreferenced: [String] = []
    /// Unreferenced trees still inside their grace period: image id hex → when they become eligible.
    public var pending: [String: Date] = [:]
    /// Trees that got a name again and left the unreferenced map.
    public var rereferenced: [String] = []
    public var treesDeleted: [String] = []
    public var imageCatalogsDeleted: [String] = []
    public var imageRecordsDeleted: [String] = []
    public var chainCatalogsDeleted: [String] = []
    /// Temporary files of interrupted catalog, record or state writes, relative to the root.
    public var temporaryFilesDeleted: [String] = []
    /// Object files (canonical and variant) deleted, as paths relative to the root.
    public var objectsDeleted: [String] = []
    /// Apparent bytes of the inodes whose last link was removed (tree files with their own inode and
    /// objects). Reflink clones share extents, so on XFS/Btrfs the space actually freed may be less.
    public var bytesFreed: Int64 = 0
    /// Failures, one per item; none of them stops the run.
    public var failures: [String] = []
    /// The run stopped at `maxDeletions`; the rest waits for the next run.
    public var limitReached = false
    /// The objects step was the full mark-and-sweep, and why (asked for, or the GC index was
    /// missing or could not be trusted); nil: the incremental pass.
    public var fullReason: String?
    /// Object names listed (and looked at) under `.objects`: every one in a full pass, only those
    /// in the shards of released bodies in an incremental one, none when nothing was released.
    public var objectsExamined = 0
    /// Catalogs read: every remaining one in a full pass; only new and released ones otherwise.
    public var catalogsRead = 0

    public var deletions: Int {
        treesDeleted.count + imageCatalogsDeleted.count + imageRecordsDeleted.count + chainCatalogsDeleted.count
            + temporaryFilesDeleted.count + objectsDeleted.count
    }
}

/// Deletes what nothing references any more (docs/design.md §3.7), in dependency order: trees no published
/// name has pointed to for the grace period, then image catalogs and records without a tree, chain
/// catalogs no image record lists (older than the grace period), then objects no catalog lists.
/// Objects are found from the GC index (`GCIndex`) at a cost in proportion to the catalogs added
/// and released since the last run; `full` (and an index that cannot be trusted) lists them all.
///
/// The caller must hold the repository lock (`Repository.lock`), like every other writer.
public struct GarbageCollector {
    public var repository: Repository
    /// How long a tree stays after its last name went away; also the minimum age of a chain catalog.
    public var grace: TimeInterval = GracePeriod.defaultSeconds
    /// Upper bound on deletions (trees, catalogs, records, objects) per run.
    public var maxDeletions = 100_000
    public var dryRun = false
    /// Run the full mark-and-sweep (list every object, read every catalog) instead of the
    /// incremental pass, and rebuild the GC index from what it finds.
    public var full = false
    /// The clock (tests inject one).
    public var now: () -> Date = Date.init
    /// Called with each failure and each deletion as it happens (for the log).
    public var log: (String) -> Void = { _ in }

    public init(repository: Repository) {
        self.repository = repository
    }

    public func run() throws -> GCReport {
        var report = GCReport()
        report.dryRun = dryRun
        let now = self.now()
        var state = try repository.readState()
        let stateBefore = state
        let referenced = Set(repository.publishedNames().map(\.imageID.hex))
        var budget = maxDeletions

        // 1. Trees.
        var trees = Set(repository.treeIDs().map(\.hex))
        for hex in state.unreferencedSince.keys.sorted() where referenced.contains(hex) || !trees.contains(hex) {
            if referenced.contains(hex) { report.rereferenced.append(hex) }
            state.unreferencedSince[hex] = nil
        }
        for hex in trees.sorted() where !referenced.contains(hex) {
            guard let since = state.unreferencedSince[hex] else {
                state.unreferencedSince[hex] = now
                report.newlyUnreferenced.append(hex)
                report.pending[hex] = now.addingTimeInterval(grace)
                continue
            }
            let eligible = since.addingTimeInterval(grace)
            guard eligible <= now else {
                report.pending[hex] = eligible
                continue
            }
            guard budget > 0 else { report.limitReached = true; report.pending[hex] = eligible; continue }
            budget -= 1
            if dryRun {
                report.treesDeleted.append(hex)
                trees.remove(hex)
                continue
            }
            do {
                report.bytesFreed += try deleteTree(try Digest(parsing: "sha256:" + hex))
                report.treesDeleted.append(hex)
                trees.remove(hex)
                state.unreferencedSince[hex] = nil
                log("gc: deleted tree \(hex)")
                GCFault.point("gc-tree")
            } catch {
                fail(&report, "cannot delete tree .images/\(hex.prefix(2))/\(hex.dropFirst(2)): \(error)")
            }
        }
        if !dryRun && state != stateBefore {
            do { try repository.writeState(state) } catch { fail(&report, "cannot record unreferenced trees in \(repository.statePath): \(error)") }
        }

        // 2. Plan: image catalogs and records without a tree (a name pointing at a missing tree keeps
        //    its catalog: `verify --repair` rebuilds the tree from it), chain catalogs no remaining
        //    record lists. Nothing is deleted yet: the objects step decides the order.
        var plan = Plan()
        let keepImages = trees.union(referenced)
        for id in repository.imageCatalogIDs() where !keepImages.contains(id.hex) {
            guard take(&budget, &report) else { break }
            plan.imageCatalogs.append(id)
        }
        var remainingRecords: [ImageRecord] = []
        for id in repository.imageRecordIDs() {
            if keepImages.contains(id.hex) {
                do {
                    if let r = try repository.readImageRecord(id) { remainingRecords.append(r) }
                } catch {
                    fail(&report, "\(error); its chain catalogs are kept")
                    // Catalogs deleted outside the index's bookkeeping make the next GC a full one.
                    _ = deleteCatalogs(plan, &report)
                    return finishWithoutObjects(report, "an image record is unreadable")
                }
                continue
            }
            guard take(&budget, &report) else { break }
            plan.records.append(id)
        }

        // Temporary names of atomic writes (`<name>.tmp-<pid>`) that a killed writer left behind;
        // only old ones, in case a writer in this process is between write and rename.
        for dir in [".imgsync", ".imgsync/images", ".imgsync/catalogs/images", ".imgsync/catalogs/chains"] {
            for name in repository.directoryNames(dir) where name.contains(".tmp-") {
                let rel = dir + "/" + name
                guard let mtime = modificationTime(repository.root + "/" + rel), mtime.addingTimeInterval(grace) <= now else { continue }
                guard take(&budget, &report) else { break }
                if remove(repository.root + "/" + rel, &report) { report.temporaryFilesDeleted.append(rel) }
            }
        }

        // 3. Chain catalogs that no remaining image lists and that are older than the grace period
        //    (a build in progress or a cached prefix for an image about to be synced stays).
        let listedChains = Set(remainingRecords.flatMap { $0.chainIDs.map(\.hex) })
        for id in repository.chainCatalogIDs() where !listedChains.contains(id.hex) {
            guard let mtime = modificationTime(repository.chainCatalogPath(id)), mtime.addingTimeInterval(grace) <= now else { continue }
            guard take(&budget, &report) else { break }
            plan.chains.append(id)
        }

        // 4. The planned catalogs, then objects no remaining catalog lists: incrementally from the
        //    GC index, or by the full mark-and-sweep (asked for, or when the index cannot be trusted).
        if full {
            sweepAll(plan, &report, &budget, reason: "asked for (--full)")
        } else {
            collectIncrementally(plan, &report, &budget)
        }
        return report
    }

    /// Catalogs and records a run deletes, in the order it deletes them.
    struct Plan {
        var imageCatalogs: [Digest] = []
        var records: [Digest] = []
        var chains: [Digest] = []

        var catalogKeys: [GCIndex.Key] {
            imageCatalogs.map { GCIndex.Key(chain: false, id: $0) } + chains.map { GCIndex.Key(chain: true, id: $0) }
        }
    }

    /// Deletes the planned catalogs and records (reports them in a dry run); whether every catalog went.
    func deleteCatalogs(_ plan: Plan, _ report: inout GCReport) -> Bool {
        var all = true
        for id in plan.imageCatalogs {
            if remove(repository.imageCatalogPath(id), &report) { report.imageCatalogsDeleted.append(id.hex) } else { all = false }
            GCFault.point("gc-catalog")
        }
        for id in plan.records where remove(repository.imageRecordPath(id), &report) {
            report.imageRecordsDeleted.append(id.hex)
        }
        for id in plan.chains {
            if remove(repository.chainCatalogPath(id), &report) { report.chainCatalogsDeleted.append(id.hex) } else { all = false }
            GCFault.point("gc-catalog")
        }
        return all
    }

    func finishWithoutObjects(_ report: GCReport, _ why: String) -> GCReport {
        var r = report
        fail(&r, "no objects deleted: \(why)")
        return r
    }

    func take(_ budget: inout Int, _ report: inout GCReport) -> Bool {
        guard budget > 0 else {
            report.limitReached = true
            return false
        }
        budget -= 1
        return true
    }

    func fail(_ report: inout GCReport, _ message: String) {
        report.failures.append(message)
        log("gc: " + message)
    }

    /// Unlinks a file (not in a dry run). False, with the failure recorded, when it could not.
    func remove(_ path: String, _ report: inout GCReport) -> Bool {
        if dryRun { return true }
        if unlink(path) != 0 && errno != ENOENT {
            fail(&report, "cannot delete \(path): \(Syscall.errorString(errno))")
            return false
        }
        log("gc: deleted \(path)")
        return true
    }

    private func modificationTime(_ path: String) -> Date? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(st.st_mtim.tv_sec) + TimeInterval(st.st_mtim.tv_nsec) / 1e9)
    }

    /// Moves the tree out of `.images/` in one rename (so it is never seen half deleted there), then
    /// removes it (`TreeRemover`: any names, any depth). Returns the apparent bytes of inodes whose
    /// last link went. What cannot be removed stays in staging, where the next GC or `cleanStaging`
    /// tries again; the error says what stayed and why.
    private func deleteTree(_ id: Digest) throws -> Int64 {
        let (shard, rest) = Repository.shardName(id)
        let staging = try repository.makeDirectory(".imgsync/staging")
        guard let images = try repository.openDirectory(".images") else { return 0 }
        let shardFd = try OwnedDescriptor.directory(at: images.rawValue, shard)
        let doomed = Array("gc-\(id.hex)".utf8)
        try TreeRemover.remove(doomed, in: staging.rawValue)
        do {
            try Syscall.rename(at: shardFd.rawValue, rest, to: staging.rawValue, doomed)
        } catch let e as ImgsyncError {
            throw ImgsyncError(.io, "cannot move \(repository.imagePath(id)) aside: \(e.errno.map(Syscall.errorString) ?? e.message)", errno: e.errno, cause: e)
        }
        let removed = try TreeRemover.remove(doomed, in: staging.rawValue)
        _ = shard.withCString { unlinkat(images.rawValue, $0, AT_REMOVEDIR) }
        return removed.bytesFreed
    }
}
