import ArgumentParser
import Foundation
import ImgsyncCore
import ImgsyncRepository

/// `imgsync stats`: objects, bytes, variant inodes, dedup ratio, paths others cannot read.
public struct StatsCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show object store and tree statistics: bytes stored, dedup ratio, variant inodes."
    )

    @OptionGroup var rootOption: RootOption

    @Flag(name: .long, help: "Print the statistics as JSON.")
    var json = false

    public init() {}

    public func run() throws {
        FileHandle.standardOutput.write(Data(try execute().utf8))
    }

    func execute() throws -> String {
        let repository = try rootOption.existing()
        let s = RepositoryStats.compute(repository)
        if json { return try MaintenanceFormat.json(s) }
        var rows: [[String]] = [
            ["objects", "\(s.objects)", ByteCount.format(s.objectBytes)],
            ["variant inodes", "\(s.variants)", ByteCount.format(s.variantBytes) + " extra"],
            ["stored", "", ByteCount.format(s.storedBytes) + " (\(ByteCount.format(s.allocatedBytes)) allocated)"],
            ["trees", "\(s.trees)", ByteCount.format(s.catalogBytes) + " of files as published"],
            ["names", "\(s.names)", ""],
            ["catalogs", "\(s.imageCatalogs + s.chainCatalogs)", "\(s.imageCatalogs) image, \(s.chainCatalogs) chain"],
            ["dedup ratio", String(format: "%.2f", s.dedupRatio), "published bytes / stored bytes"],
            ["unreadable by others", "\(s.unreadableByOthers)", "tree paths users other than the owner cannot read"],
        ]
        if !s.treesWithoutCatalog.isEmpty {
            rows.append(["trees without catalog", "\(s.treesWithoutCatalog.count)", "run imgsync verify"])
        }
        return MaintenanceFormat.table(rows)
    }
}
