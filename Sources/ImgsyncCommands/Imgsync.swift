import ArgumentParser
import ImgsyncCore

/// The `imgsync` command: publishes container images as unpacked, deduplicated directory trees.
public struct Imgsync: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "imgsync",
        abstract: "Publish container images as unpacked directory trees backed by a SHA-256 object store.",
        subcommands: [ApplyCommand.self, CatalogCommand.self, InspectCommand.self,
                      ListCommand.self, GCCommand.self, VerifyCommand.self, StatsCommand.self]
    )
    public init() {}
}
