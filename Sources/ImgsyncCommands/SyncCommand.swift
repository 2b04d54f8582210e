import ArgumentParser
import Foundation
import ImgsyncCore
import ImgsyncRepository
import ImgsyncRegistry
import ImgsyncServe
import ImgsyncSync
import Logging

/// `imgsync sync`: the publisher's scheduled job (docs/design.md §3).
public struct SyncCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Publish every image of the list into the repository; unpublish what left it.",
        discussion: """
        Exit status: 0 everything synced; 1 some images or list lines failed (the rest was published);
        2 bad invocation or unusable configuration (list unreadable, repository locked, hook failed):
        nothing was published or removed; 3 nothing was published because every listed image failed,
        or the --json report, --metrics-file or --events log could not be written.
        """
    )

    @OptionGroup var options: SyncRunOptions

    public init() {}

    public func run() async throws {
        let logger = makeLogger(label: "imgsync.sync", level: options.logLevel)
        let run = try await options.registryOptions.withClient(logger: logger) { client in
            await options.sync(client: client, logger: logger, command: "sync")
        }
        if run.status != 0 { throw ExitCode(run.status) }
    }
}
