import ArgumentParser
import Foundation
import ImgsyncCore
import ImgsyncRepository

/// `imgsync verify [--repair]`: re-hashes objects and compares every tree with its catalog.
public struct VerifyCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Re-hash every object and compare every image tree with its catalog.",
        discussion: """
            Each difference is reported with the image and the path. With --repair, corrupt objects are \
            deleted, objects with wrong metadata are fixed, and a tree that differs is rebuilt from its \
            catalog and the object store and swapped in atomically. A tree whose bodies are missing or \
            corrupt cannot be rebuilt here (verify does not contact registries): re-sync it. \
            Exit code 0 when nothing is wrong (or everything was repaired), 1 when problems remain.
            """
    )

    @OptionGroup var rootOption: RootOption

    @Flag(name: .long, help: "Delete corrupt objects and rebuild trees that differ from their catalog.")
    var repair = false

    @OptionGroup var change: ChangeOptions

    @Flag(name: .long, help: "Print the report as JSON.")
    var json = false

    public init() {}

    public func run() throws {
        let (text, code) = try execute()
        FileHandle.standardOutput.write(Data(text.utf8))
        if code != 0 { throw ExitCode(code) }
    }

    func execute() throws -> (output: String, exitCode: Int32) {
        let repository = try rootOption.existing()
        try change.lock(repository)
        var verifier = Verifier(repository: repository)
        var report: VerifyReport
        var hookNote = ""
        if repair && !change.hooks.isEmpty {
            // Nothing is written under the root before the before-change hook: check first, and
            // open the change only when there is something to repair.
            report = try verifier.run()
            if !report.problems.isEmpty {
                try change.hooks.runBefore(root: repository.root)
                verifier.repair = true
                report = try verifier.run()
                do { try change.hooks.runAfter(root: repository.root) } catch { hookNote = "hook: \(error)\n" }
            }
        } else {
            verifier.repair = repair
            report = try verifier.run()
        }
        let code: Int32 = report.remaining.isEmpty && hookNote.isEmpty ? 0 : 1
        if json { return (try MaintenanceFormat.json(report), code) }
        var out = ""
        for p in report.problems { out += p.description + "\n" }
        out += "verify: \(MaintenanceFormat.plural(report.objectsChecked, "object")) re-hashed (\(ByteCount.format(report.objectBytesHashed))), "
        out += "\(MaintenanceFormat.plural(report.treesChecked, "tree")) (\(MaintenanceFormat.plural(report.pathsChecked, "path"))) checked: "
        out += "\(MaintenanceFormat.plural(report.problems.count, "problem")) found"
        if repair {
            out += ", \(report.problems.count - report.remaining.count) repaired"
            out += " (\(MaintenanceFormat.plural(report.treesRebuilt.count, "tree")) rebuilt, \(MaintenanceFormat.plural(report.objectsDeleted.count, "object")) deleted)"
        }
        out += report.remaining.isEmpty ? "\n" : ", \(report.remaining.count) remaining\n"
        if let n = report.unlistedBodies, n > 0 {
            out += "note: \(n) \(n == 1 ? "body" : "bodies") in the store no catalog lists: garbage for `imgsync gc` (or `gc --full`)\n"
        }
        return (out + hookNote, code)
    }
}
