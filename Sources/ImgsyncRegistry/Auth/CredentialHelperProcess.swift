import Foundation
import ImgsyncCore

/// Runs `docker-credential-<name> get` from PATH (the docker credential-helper protocol).
public enum CredentialHelperProcess {
    public static func run(program: String, serverURL: String) async throws -> [UInt8] {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        guard let executable = path.split(separator: ":").map({ "\($0)/\(program)" })
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ImgsyncError(
                .credentials,
                "credential helper not supported here: \(program) is not in PATH; install it or put the credentials in the auth file's \"auths\""
            )
        }
        return try await withCheckedThrowingContinuation { continuation in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["get"]
            let stdin = Pipe(), stdout = Pipe()
            process.standardInput = stdin
            process.standardOutput = stdout
            process.standardError = FileHandle.nullDevice
            process.terminationHandler = { p in
                let data = stdout.fileHandleForReading.readDataToEndOfFile()
                if p.terminationStatus == 0 {
                    continuation.resume(returning: Array(data))
                } else {
                    let text = String(decoding: data.prefix(200), as: UTF8.self)
                    continuation.resume(throwing: ImgsyncError(
                        .credentials, "\(program) get failed for \(serverURL) (exit \(p.terminationStatus)): \(text.debugQuoted)"))
                }
            }
            do {
                try process.run()
                stdin.fileHandleForWriting.write(Data(serverURL.utf8))
                try? stdin.fileHandleForWriting.close()
            } catch {
                continuation.resume(throwing: ImgsyncError(.credentials, "cannot run \(executable): \(error)"))
            }
        }
    }
}
