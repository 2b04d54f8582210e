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
