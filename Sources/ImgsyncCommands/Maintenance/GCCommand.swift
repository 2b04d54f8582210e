import ArgumentParser
import Foundation
import ImgsyncCore
import ImgsyncRepository

/// `imgsync gc`: deletes trees no name has pointed to for the grace period, then the catalogs and
/// objects nothing references any more.
public struct GCCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Delete unreferenced trees (after a grace period), catalogs and objects.",
        discussion: """
            A tree that no published name points to is recorded as unreferenced on the first run that \
            sees it and deleted by the first run after the grace period; a name pointing at it again \
            cancels that. Then image catalogs and records without a tree go, chain catalogs that no \
            image lists (once older than the grace period), and objects no catalog lists. Failures are \
            reported one by one and do not stop the run; the exit code is 1 when there were any. \
            Objects are found from the GC index (.imgsync/gc-index) at a cost in proportion to what was \
            released; --full lists every object and reads every catalog instead, and rebuilds the index \
            (a missing or doubtful index makes a run full by itself).
            """
    )

    @OptionGroup var rootOption: RootOption

    @Option(name: .long, help: "How long a tree stays after its last name went away, e.g. 0s, 30m, 12h, 2d.")
    var grace: String = "2d"

    @Option(name: .customLong("max-deletions"), help: "Stop after deleting this many items (trees, catalogs, records, objects).")
    var maxDeletions: Int = 100_000

    @Flag(name: .customLong("dry-run"), help: "List what would be deleted; change nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Full mark-and-sweep: list every object and read every catalog, and rebuild the GC index.")
    var full = false

    @OptionGroup var change: ChangeOptions

    @Flag(name: .long, help: "Print the report as JSON.")
    var json = false

    public init() {}

    public func validate() throws {
        do { _ = try GracePeriod.parse(grace) } catch { throw ValidationError("--grace: \(error)") }
        if maxDeletions < 0 { throw ValidationError("--max-deletions must be 0 or more, not \(maxDeletions)") }
    }

    public func run() throws {
        let (text, code) = try execute()
        FileHandle.standardOutput.write(Data(text.utf8))
        if code != 0 { throw ExitCode(code) }
    }

    func execute(now: Date = Date()) throws -> (output: String, exitCode: Int32) {
        let repository = try rootOption.existing()
        try change.lock(repository)
        var gc = GarbageCollector(repository: repository)
        gc.grace = try GracePeriod.parse(grace)
        gc.maxDeletions = maxDeletions
        gc.dryRun = dryRun
        gc.full = full
        gc.now = { now }
        var hookNote = ""
        if !dryRun && !change.hooks.isEmpty {
            // Nothing is written under the root before the before-change hook: ask first.
            var preview = gc
            preview.dryRun = true
            let planned = try preview.run()
            if planned.deletions == 0 && planned.newlyUnreferenced.isEmpty && planned.rereferenced.isEmpty {
                let text = "gc: nothing to change; the hooks were not run and nothing under \(repository.root) was written\n"
                return (json ? try MaintenanceFormat.json(planned) : text, 0)
            }
            try change.hooks.runBefore(root: repository.root)
        }
        let report = try gc.run()
        var code: Int32 = report.failures.isEmpty ? 0 : 1
        if !dryRun {
            do {
                try change.hooks.runAfter(root: repository.root)
            } catch {
                hookNote = "hook: \(error)\n"
                code = 1
            }
        }
        if json { return (try MaintenanceFormat.json(report), code) }
        return (GCCommand.text(report, root: repository.root) + hookNote, code)
    }

    static func text(_ r: GCReport, root: String) -> String {
        let verb = r.dryRun ? "would delete" : "deleted"
        var out = ""
        if r.dryRun {
            for h in r.treesDeleted { out += "would delete tree .images/\(h.prefix(2))/\(h.dropFirst(2))\n" }
            for h in r.imageCatalogsDeleted { out += "would delete .imgsync/catalogs/images/\(h)\n" }
            for h in r.imageRecordsDeleted { out += "would delete .imgsync/images/\(h).json\n" }
            for h in r.chainCatalogsDeleted { out += "would delete .imgsync/catalogs/chains/\(h)\n" }
            for p in r.temporaryFilesDeleted { out += "would delete \(p)\n" }
            for p in r.objectsDeleted { out += "would delete \(p)\n" }
        }
        for h in r.newlyUnreferenced { out += "unreferenced: sha256:\(h) (grace period starts now)\n" }
        for h in r.rereferenced { out += "referenced again: sha256:\(h) (kept)\n" }
        for (h, when) in r.pending.sorted(by: { $0.key < $1.key }) where !r.newlyUnreferenced.contains(h) {
            out += "pending: sha256:\(h) eligible for deletion at \(MaintenanceFormat.date(when))\n"
        }
        for f in r.failures { out += "failed: \(f)\n" }
        if let why = r.fullReason { out += "full mark-and-sweep (\(why)): \(MaintenanceFormat.plural(r.objectsExamined, "object")) examined\n" }
        out += "gc\(r.dryRun ? " (dry run)" : ""): \(verb) \(MaintenanceFormat.plural(r.treesDeleted.count, "tree")), "
        out += "\(MaintenanceFormat.plural(r.imageCatalogsDeleted.count, "image catalog")), "
        out += "\(MaintenanceFormat.plural(r.imageRecordsDeleted.count, "image record")), "
        out += "\(MaintenanceFormat.plural(r.chainCatalogsDeleted.count, "chain catalog")), "
        out += "\(MaintenanceFormat.plural(r.objectsDeleted.count, "object"))"
        if !r.temporaryFilesDeleted.isEmpty { out += ", \(MaintenanceFormat.plural(r.temporaryFilesDeleted.count, "temporary file"))" }
        out += "; "
        // A dry run cannot tell which object inodes lose their last link with the trees.
        out += "\(r.dryRun ? "would free at least" : "freed") \(ByteCount.format(r.bytesFreed))"
        out += r.failures.isEmpty ? "" : "; \(MaintenanceFormat.plural(r.failures.count, "failure"))"
        out += r.limitReached ? "; stopped at --max-deletions, run again for the rest" : ""
        return out + "\n"
    }
}
