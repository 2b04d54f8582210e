import ArgumentParser
import Foundation
import ImgsyncCommands

#if canImport(Glibc)
import Glibc
#endif

@main
struct Entry {
    /// Runs the command; a bad invocation exits 2 (DESIGN §3.9) instead of ArgumentParser's 64.
    static func main() async {
        do {
            var command = try Imgsync.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = Imgsync.exitCode(for: error)
            if code == .validationFailure {
                let message = Imgsync.fullMessage(for: error)
                if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
                exit(2)
            }
            Imgsync.exit(withError: error)
        }
    }
}
