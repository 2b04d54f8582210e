#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import ImgsyncSync

/// `imgsync build-worker` (hidden): builds one image for `imgsync sync`, which starts it and sends
/// it the job and the verified layer bytes on stdin (docs/architecture.md, "Build workers").
struct BuildWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build-worker",
        abstract: "Build one image for a running `imgsync sync` (started by it; not for use by hand).",
        shouldDisplay: false
    )

    func run() throws {
        let status = BuildWorker.run()
        if status != 0 { throw ExitCode(status) }
    }

    /// This executable, for `SyncOptions.workerExecutable`: `/proc/self/exe` runs the very binary of
    /// this process even if the file was replaced since (an upgrade during a run), so parent and
    /// worker always speak the same job format.
    static var executable: String? {
        if access("/proc/self/exe", X_OK) == 0 { return "/proc/self/exe" }
        let argument = CommandLine.arguments.first ?? ""
        guard argument.contains("/") else { return nil }
        return URL(fileURLWithPath: argument).standardizedFileURL.path
    }
}
