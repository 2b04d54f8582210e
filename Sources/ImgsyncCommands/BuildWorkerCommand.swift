#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import ImgsyncSync
import Synchronization

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

    /// Set by `Imgsync.main()`: this process is the `imgsync` executable (tests run commands inside
    /// the test runner, whose executable has no `build-worker`).
    static let runningAsImgsync = Atomic<Bool>(false)

    /// This executable, for `SyncOptions.workerExecutable` (nil unless this process is `imgsync`):
    /// `/proc/self/exe` runs the very binary of this process even if the file was replaced since
    /// (an upgrade during a run), so parent and worker always speak the same job format.
    static var executable: String? {
        guard runningAsImgsync.load(ordering: .relaxed) else { return nil }
        if access("/proc/self/exe", X_OK) == 0 { return "/proc/self/exe" }
        let argument = CommandLine.arguments.first ?? ""
        guard argument.contains("/") else { return nil }
        return URL(fileURLWithPath: argument).standardizedFileURL.path
    }
}
