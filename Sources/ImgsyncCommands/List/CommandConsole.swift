import Foundation

/// Where a command writes: the terminal, or buffers in tests (so commands run in-process).
struct CommandConsole {
    var out: (String) -> Void
    var err: (String) -> Void

    static var standard: CommandConsole {
        CommandConsole(
            out: { print($0) },
            err: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        )
    }
}
