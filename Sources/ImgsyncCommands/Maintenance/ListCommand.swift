import ArgumentParser
import Foundation
import ImgsyncCore
import ImgsyncRepository

/// `imgsync list` (alias `status`): published names with their image, digests, platform, size and
/// last sync, and trees waiting for GC. The platform names of a multi-platform line are shown under
/// their plain name (`  @linux-arm64-v8`); `--json` lists them per name in `platforms`.
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
        func row(_ n: RepositoryStatus.Name, as shown: String) -> [String] {
            [shown, short(n.imageID) + (n.treePresent ? "" : " (tree missing)"), short(n.manifestDigest), n.platform ?? "-",
             n.bytes.map(ByteCount.format) ?? "-", MaintenanceFormat.date(n.published), MaintenanceFormat.date(n.checked)]
        }
        // A platform name is shown under its plain name, by its suffix alone.
        let byName = Dictionary(status.names.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for n in status.names where n.platformOf == nil {
            rows.append(row(n, as: n.name))
            for p in n.platforms ?? [] {
                if let platform = byName[p.name] { rows.append(row(platform, as: "  " + p.name.dropFirst(n.name.count))) }
            }
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
