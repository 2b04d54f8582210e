import ArgumentParser
import Foundation
import ImgsyncCore

/// The `imgsync` command: publishes container images as unpacked, deduplicated directory trees.
public struct Imgsync: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "imgsync",
        abstract: "Publish container images as unpacked directory trees backed by a SHA-256 object store.",
        version: ImgsyncVersion.current,
        subcommands: [
            SyncCommand.self, ServeCommand.self, AddCommand.self, RemoveCommand.self, CheckCommand.self,
            ListCommand.self, GCCommand.self, VerifyCommand.self, StatsCommand.self,
            InspectCommand.self, ApplyCommand.self, CatalogCommand.self, BuildWorkerCommand.self,
        ]
    )
    public init() {}

    /// ArgumentParser's `main`, except that a usage error (unknown option, failed `validate()`) exits
    /// with 2 instead of EX_USAGE (64): imgsync's codes are 0 ok, 1 something failed, 2 bad
    /// invocation or unusable configuration (docs/design.md §3.9).
    public static func main() async {
        raiseOpenFileLimit()
        LayerApplier.useLargeDirectoryCache()
        // Small files are then created with their permission bits, one chmod less each.
        FileCreation.recordUmask()
        BuildWorkerCommand.runningAsImgsync.store(true, ordering: .relaxed)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ImgsyncError {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            Foundation.exit(exitStatus(for: error))
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }

    /// Raises the soft limit on open files to the hard limit (at most 65,536). A build keeps a
    /// bounded cache of directory descriptors (tree and object-store directories) and `sync` runs
    /// several builds plus their connections at once: more than the 1,024 a systemd service or a
    /// login shell gets by default, while the hard limit is far higher. The kernel allows any
    /// process to raise its soft limit up to the hard one.
    static func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let wanted = min(limit.rlim_max, 65_536)
        guard limit.rlim_cur < wanted else { return }
        limit.rlim_cur = wanted
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    /// The exit status of a command that stopped on `error`: 2 for an unusable invocation or
    /// configuration (not a repository, repository locked, bad credentials file, a failing
    /// before-change hook: nothing was changed), 1 for everything else.
    static func exitStatus(for error: ImgsyncError) -> Int32 {
        switch error.code {
        case .config, .busy, .credentials, .invalidArgument, .invalidReference: return 2
        default: return 1
        }
    }
}
