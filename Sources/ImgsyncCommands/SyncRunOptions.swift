import ArgumentParser
import Foundation
import ImgsyncCore
import ImgsyncRepository
import ImgsyncRegistry
import ImgsyncServe
import ImgsyncSync
import Logging

/// The options of one sync run, shared by `imgsync sync` (one run) and `imgsync serve` (a run per
/// interval and after pushes), and the run itself.
struct SyncRunOptions: ParsableArguments, Sendable {
    @Option(help: "The image list: a file or an https:// URL (OSG docker_images.txt format).")
    var images = "images.txt"

    @Option(help: "The repository root (default: $IMGSYNC_ROOT).")
    var root: String?

    @Option(help: "Images built at the same time.")
    var jobs = 2

    @Option(help: "Platform for entries that do not name one (os/arch[/variant]).")
    var platform = ImgsyncSync.defaultPlatform

    @Flag(help: "Resolve and report what would change; publish and remove nothing.")
    var dryRun = false

    @Option(help: "Also write the report as JSON to this file.")
    var json: String?

    @Option(help: ArgumentHelp("Write the run's metrics to this file (node_exporter textfile collector), atomically.",
                               discussion: "Replaced at the end of every run; the last success time is kept from the previous file when a run publishes nothing."))
    var metricsFile: String?

    @Option(help: "Append the run's events to this file as JSON Lines (run start and end, each image, each removal).")
    var events: String?

    @Flag(help: "Wait for another sync holding the repository lock instead of failing.")
    var wait = false

    @Flag(help: "Remove de-listed names even if the list shrank a lot or has bad lines.")
    var force = false

    @Option(help: "Largest fraction of the previous list's entries that may disappear without --force.")
    var maxRemovalFraction = 0.5

    @Option(help: "How tree files share bodies: auto, hardlink, reflink or copy (copy inside a CVMFS transaction).")
    var link = "auto"

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(
        "Publish as <registry>/<repo>:<tag> instead of dropping the registry.",
        discussion: "Recorded in the repository: later runs follow it without the flag; asking for the other value is refused unless --migrate-paths."))
    var keepRegistry: Bool?

    @Flag(help: "Accept a change of --keep-registry: republish every name under its new path and remove the old paths.")
    var migratePaths = false

    @Option(help: "Shell command run before the first change (e.g. 'cvmfs_server transaction repo').")
    var beforeChange: String?

    @Option(help: "Shell command run after the changes (e.g. 'cvmfs_server publish repo').")
    var afterChange: String?

    @Option(name: .customLong("lock-file"), help: ArgumentHelp(
        "Lock file (default: $IMGSYNC_LOCK_FILE, else <root>/.imgsync/lock).",
        discussion: "Put it outside the root when the root is read-only between transactions (CVMFS)."))
    var lockFile: String?

    @Option(help: "Keep unreferenced trees this long before garbage collection (e.g. 30m, 12h, 2d).")
    var grace = "2d"

    @Flag(help: ArgumentHelp("Make every tree a+rX on disk (files readable by all, directories traversable).",
                             discussion: "For CVMFS repositories, where every client user is \"other\". The catalogs keep the layers' modes. A repository is built with it or without it, never both: later runs follow the existing trees, and asking for it on trees built without it is an error."))
    var worldReadable = false

    @Flag(help: "Skip garbage collection after the sync.")
    var noGC = false

    @Option(help: "Log level: error, warning, info, debug.")
    var logLevel = "info"

    @Flag(help: "Put an empty .cvmfscatalog at each image root (bounds CVMFS catalog size).")
    var cvmfsCatalog = false

    @Flag(help: ArgumentHelp("Make the plain name of a multi-platform line a CVMFS variant symlink that resolves per worker node.",
                             discussion: "The plain name becomes <name>@$(CVMFS_ARCH:-<uname -m of the first listed platform>) and each Linux platform also gets an alias <name>@x86_64, @aarch64, … Meaningful only inside a CVMFS repository: elsewhere the plain name does not resolve. Not recorded: a run without it makes plain names ordinary symlinks again."))
    var cvmfsVariantSymlinks = false

    @Flag(help: ArgumentHelp("Build images in this process instead of one build worker process per image.",
                             discussion: "Without workers a crash while building one image ends the whole run; for debugging and measurements.",
                             visibility: .hidden))
    var buildInProcess = false

    @OptionGroup var registryOptions: RegistryOptions

    init() {}

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        guard LinkMode(rawValue: link) != nil else { throw ValidationError("--link must be auto, hardlink, reflink or copy") }
        guard (0...1).contains(maxRemovalFraction) else { throw ValidationError("--max-removal-fraction must be between 0 and 1") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of error, warning, info, debug, trace") }
        do { _ = try Platform(parsing: platform) } catch { throw ValidationError("--platform: \(error)") }
        do { _ = try GracePeriod.parse(grace) } catch { throw ValidationError("--grace: \(error)") }
        if rootPath == nil { throw ValidationError("give --root or set IMGSYNC_ROOT") }
        // Checked before any work: a record that cannot be written would fail the run at its end.
        for (option, path) in [("--json", json), ("--metrics-file", metricsFile), ("--events", events)] {
            if let path, let problem = SyncRecords.directoryProblem(forFile: path) {
                throw ValidationError("\(option) \(path): \(problem)")
            }
        }
    }

    var rootPath: String? { root ?? ProcessInfo.processInfo.environment["IMGSYNC_ROOT"] }

    /// The engine's options from the command line (GC after the sync unless --no-gc).
    func syncOptions(logger: Logger) throws -> SyncOptions {
        var options = SyncOptions(root: rootPath!)
        options.jobs = jobs
        options.dryRun = dryRun
        options.force = force
        options.wait = wait
        options.shrinkLimit = maxRemovalFraction
        options.linkMode = LinkMode(rawValue: link)!
        options.beforeChange = beforeChange
        options.afterChange = afterChange
        options.lockFile = lockFile
        options.worldReadable = worldReadable
        options.addSandboxMetadata(cvmfsCatalog: cvmfsCatalog)
        if !buildInProcess { options.workerExecutable = BuildWorkerCommand.executable }
        if !noGC {
            let graceSeconds = try GracePeriod.parse(grace)
            options.afterSync = { repository in
                var gc = GarbageCollector(repository: repository)
                gc.grace = graceSeconds
                gc.log = { logger.info("\($0)") }
                let r = try gc.run()
                for failure in r.failures { logger.warning("gc: \(failure)") }
                return ["treesDeleted": Int64(r.treesDeleted.count), "objectsDeleted": Int64(r.objectsDeleted.count),
                        "bytesFreed": r.bytesFreed, "treesPending": Int64(r.pending.count), "failures": Int64(r.failures.count),
                        "objectsExamined": Int64(r.objectsExamined), "catalogsRead": Int64(r.catalogsRead), "full": r.fullReason == nil ? 0 : 1]
            }
            options.gcHasWork = { repository in
                var gc = GarbageCollector(repository: repository)
                gc.grace = graceSeconds
                gc.dryRun = true
                let r = try gc.run()
                return r.deletions > 0 || !r.newlyUnreferenced.isEmpty || !r.rereferenced.isEmpty
            }
        }
        return options
    }

    /// One sync run with its records (`--json`, `--metrics-file`, `--events`) and its summary on
    /// standard output: every entry of the list, or with `select` only the entries it picks from the
    /// list (a partial run: nothing else is published, checked or removed, and the shrink guard's
    /// record of the list size is left alone). A partial run that selects nothing does nothing
    /// (status 0, no report, no records). Messages on standard error start with `command`.
    func sync(client: RegistryClient, logger: Logger, command: String,
              select: ((ImageList) -> Set<Int>)? = nil) async -> SyncRun {
        func fail(_ message: String) {
            FileHandle.standardError.write(Data("imgsync \(command): \(message)\nnothing was published or removed\n".utf8))
        }
        let records: SyncRecords
        var options: SyncOptions
        let defaultPlatform: Platform
        do {
            options = try syncOptions(logger: logger)
            defaultPlatform = try Platform(parsing: platform)
        } catch {
            fail("\(error)")
            return SyncRun(status: 2, report: nil, error: "\(error)")
        }
        do {
            records = try SyncRecords(json: json, metricsFile: metricsFile, events: events)
        } catch {
            fail("--events: \(error)")
            return SyncRun(status: 2, report: nil, error: "\(error)")
        }
        options.removeUnlisted = select == nil
        // Request budgets are per run; `imgsync serve` keeps one client for all its runs.
        client.beginRun()
        if select == nil { records.start(root: options.root, list: images, dryRun: dryRun) }
        var list: ImageList?
        let report: SyncReport
        do {
            let keepRegistry = try PathSettings.keepRegistry(requested: keepRegistry, migrate: migratePaths, root: options.root)
            options.keepRegistry = keepRegistry
            options.migratePaths = migratePaths
            let whole = try await ImageList.load(images, client: client)
            list = whole
            var selected = whole
            if let select {
                let lines = select(whole)
                if lines.isEmpty { return SyncRun(status: 0, report: nil, list: whole) }
                selected = whole.only(lines: lines)
                records.start(root: options.root, list: images, dryRun: dryRun)
            }
            // The state is read without the lock, for what the `all` lines offered last time only:
            // a stale or missing answer costs a GET, never a wrong platform (the digest must match).
            let known = (try? Repository.readState(root: options.root))??.platformLists ?? [:]
            var (targets, issues, failedLines, platformLists) = await SyncTarget.targets(
                of: selected, keepRegistry: keepRegistry, defaultPlatform: defaultPlatform, client: client,
                variantSymlinks: cvmfsVariantSymlinks, knownPlatforms: known)
            options.platformLists = platformLists
            if select != nil {
                let (kept, leftOut) = SyncTarget.leavingOthersAlone(targets, state: try Repository.readState(root: options.root))
                targets = kept
                issues += leftOut
            }
            let engine = try SyncEngine(options: options, client: client, logger: logger)
            report = try await engine.run(targets: targets, listIssues: issues, failedLines: failedLines,
                                          listEntries: whole.entries.count, listName: whole.source)
        } catch {
            fail("\(error)")
            _ = records.finish(report: nil, status: 2, error: "\(error)")
            reportProblems(records, command: command)
            return SyncRun(status: 2, report: nil, error: "\(error)", list: list)
        }
        print(report.text(), terminator: "")
        let status = records.finish(report: report, status: report.exitCode)
        reportProblems(records, command: command)
        return SyncRun(status: status, report: report, list: list)
    }

    private func reportProblems(_ records: SyncRecords, command: String) {
        for problem in records.problems {
            FileHandle.standardError.write(Data("imgsync \(command): \(problem)\n".utf8))
        }
    }
}
