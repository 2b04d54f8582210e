import ArgumentParser
import Foundation
import ImgsyncCore

/// The `imgsync` command: publishes container images as unpacked, deduplicated directory trees.
public struct Imgsync: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "imgsync",
        abstract: "Publish container images as unpacked directory trees backed by a SHA-256 object store.",
        subcommands: [
            SyncCommand.self, AddCommand.self, RemoveCommand.self, CheckCommand.self,
            ListCommand.self, GCCommand.self, VerifyCommand.self, StatsCommand.self,
            InspectCommand.self, ApplyCommand.self, CatalogCommand.self,
        ]
    )
    public init() {}

    /// ArgumentParser's `main`, except that a usage error (unknown option, failed `validate()`) exits
    /// with 2 instead of EX_USAGE (64): imgsync's codes are 0 ok, 1 something failed, 2 bad
    /// invocation or unusable configuration (docs/design.md §3.9).
    public static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
