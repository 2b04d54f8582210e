import ArgumentParser
import Foundation
import ImgsyncCore
import ImgsyncRepository

/// `imgsync list` (alias `status`): published names with their image, digests, platform, size and
/// last sync, and trees waiting for GC.
public struct ListCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List published names (image id, manifest digest, platform, size, last sync) and pending GC.",
        aliases: ["status"]
    )

    @OptionGroup var rootOption: RootOption

    @Option(name: .long, help: "Grace period to compute GC eligibility with (as gc --grace).")
    var grace: String = "2d"

    @Flag(name: .long, help: "Print as JSON.")
    var json = false

    public init() {}

    public func validate() throws {
        do { _ = try GracePeriod.parse(grace) } catch { throw ValidationError("--grace: \(error)") }
    }

    public func run() throws {
        FileHandle.standardOutput.write(Data(try execute().utf8))
    }

    func execute() throws -> String {
        let repository = try rootOption.existing()
        let status = try RepositoryStatus.compute(repository, grace: try GracePeriod.parse(grace))
        if json { return try MaintenanceFormat.json(status) }
        func short(_ d: String?) -> String {
            guard let d else { return "-" }
            return d.hasPrefix("sha256:") ? String(d.dropFirst(7).prefix(12)) : d
        }
        var rows = [["NAME", "IMAGE", "MANIFEST", "PLATFORM", "SIZE", "PUBLISHED", "CHECKED"]]
        for n in status.names {
            rows.append([n.name, short(n.imageID) + (n.treePresent ? "" : " (tree missing)"), short(n.manifestDigest), n.platform ?? "-",
                         n.bytes.map(ByteCount.format) ?? "-", MaintenanceFormat.date(n.published), MaintenanceFormat.date(n.checked)])
        }
        var out = MaintenanceFormat.table(rows)
        out += "\(MaintenanceFormat.plural(status.names.count, "name")); last sync \(MaintenanceFormat.date(status.lastSync))\n"
        if status.pendingGC.isEmpty {
            out += "pending GC: none\n"
        } else {
            out += "pending GC (grace \(GracePeriod.format(status.graceSeconds))):\n"
            for p in status.pendingGC {
                let when = p.eligible.map { "eligible at " + MaintenanceFormat.date($0) } ?? "not yet seen by gc (grace starts at its next run)"
                out += "  \(p.imageID) \(p.bytes.map(ByteCount.format) ?? "-"): \(when)\n"
            }
        }
        return out
    }
}
