import Foundation

/// The `imgsync` executable the end-to-end tests run: `$IMGSYNC_BIN` when set (CI points it at the
/// plain release build users run), else the one built beside the test bundle (the build
/// configuration the tests were built in).
let imgsyncExecutable: String = {
    if let explicit = ProcessInfo.processInfo.environment["IMGSYNC_BIN"], !explicit.isEmpty { return explicit }
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let candidates = [dir.appendingPathComponent("imgsync").path,
                      dir.deletingLastPathComponent().appendingPathComponent("imgsync").path]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
}()

/// Runs the executable with `HOME` in the test's directory (so no user configuration is read);
/// returns its exit status and everything it printed.
func imgsync(_ env: FakeEnvironment, _ arguments: [String], extraEnvironment: [String] = []) async throws -> (status: Int32, output: String) {
    do {
        let output = try await ChildProcess.run(["env", "HOME=\(env.dir.path)"] + extraEnvironment + [imgsyncExecutable] + arguments, timeout: 240)
        return (0, output)
    } catch let failure as CommandFailed {
        return (failure.status, failure.output)
    }
}
