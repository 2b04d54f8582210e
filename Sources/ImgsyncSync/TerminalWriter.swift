import Foundation

/// Standard error as log lines and the progress display share it (docs/design.md §5).
///
/// On a terminal, log lines scroll above a status area (one line per running build) that is
/// redrawn below them: each log line is written as one chunk that clears the status area, prints the
/// line whole and draws the status again, under one lock, so a line is never cut by a redraw. Without
/// a terminal only the log text is written, never an escape code.
public final class TerminalWriter: @unchecked Sendable {
    // @unchecked: `status` and `pending` are only touched under `lock`, and `output` is only called
    // under it, so chunks reach the file in the order they were built.
    public let isTerminal: Bool
    private let output: @Sendable ([UInt8]) -> Void
    private let columns: @Sendable () -> Int
    private let lock = NSLock()
    /// The status lines on screen now (each followed by a newline: the cursor is below them).
    private var status: [String] = []
    /// Log text after the last newline, held until its line is complete.
    private var pending: [UInt8] = []

    /// The status area shows at most this many lines (the last says how many more there are), so
    /// that moving the cursor up never runs off the top of a small window.
    public static let maxStatusLines = 8

    /// `output` receives each chunk (a log line, a redraw) in one call; `columns` is the terminal's
    /// width, asked at each redraw.
    public init(isTerminal: Bool, columns: @escaping @Sendable () -> Int = { 100 },
                output: @escaping @Sendable ([UInt8]) -> Void) {
        self.isTerminal = isTerminal
        self.columns = columns
        self.output = output
    }

    /// The process's standard error. There is one because fd 2 is one: every writer to it must take
    /// the same lock.
    public static let standardError = TerminalWriter(
        isTerminal: isatty(2) != 0,
        columns: {
            var size = winsize()
            return ioctl(2, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 100
        },
        output: { writeAll(2, $0) })

    /// The terminal's width in columns.
    public var width: Int { columns() }

    /// Writes log text. Complete lines are written at once (above the status area on a terminal);
    /// text after the last newline waits for the rest of its line.
    public func write(_ text: String) {
        lock.withLock {
            guard isTerminal else {
                output(Array(text.utf8))
                return
            }
            pending += text.utf8
            guard let end = pending.lastIndex(of: UInt8(ascii: "\n")) else { return }
            let lines = pending[...end]
            var chunk = clearSequence()
            chunk += lines
            chunk += drawSequence(status)
            pending.removeSubrange(...end)
            output(chunk)
        }
    }

    /// Replaces the status area with `lines`, each cut to the width of the terminal. Does nothing
    /// without a terminal.
    public func setStatus(_ lines: [String]) {
        guard isTerminal else { return }
        let width = columns()
        var shown = lines.map { Self.fit($0, width: width) }
        if shown.count > Self.maxStatusLines {
            let more = shown.count - (Self.maxStatusLines - 1)
            shown = Array(shown.prefix(Self.maxStatusLines - 1)) + [Self.fit("… and \(more) more", width: width)]
        }
        lock.withLock {
            guard shown != status else { return }
            let chunk = clearSequence() + drawSequence(shown)
            status = shown
            output(chunk)
        }
    }

    /// Removes the status area from the screen.
    public func clearStatus() { setStatus([]) }

    /// A `TextOutputStream` for swift-log's `StreamLogHandler` that writes through this writer.
    public var logStream: LogStream { LogStream(writer: self) }

    public struct LogStream: TextOutputStream, Sendable {
        let writer: TerminalWriter
        public func write(_ string: String) { writer.write(string) }
    }

    // MARK: escape sequences (called under `lock`)

    /// Cursor up over the status area, then erase to the end of the screen.
    private func clearSequence() -> [UInt8] {
        guard !status.isEmpty else { return [] }
        return Array("\u{1B}[\(status.count)A\u{1B}[J".utf8)
    }

    private func drawSequence(_ lines: [String]) -> [UInt8] {
        Array(lines.map { $0 + "\n" }.joined().utf8)
    }

    /// One screen row: shorter than the width, so that the line never wraps and the cursor arithmetic
    /// holds; control characters (a name cannot hold them, but a message might) become spaces.
    static func fit(_ line: String, width: Int) -> String {
        let clean = String(line.map { $0.isNewline || $0 == "\u{1B}" || $0 == "\r" ? " " : $0 })
        let room = max(10, width - 1)
        return clean.count <= room ? clean : String(clean.prefix(room - 1)) + "…"
    }
}

/// Writes all of `bytes` to `fd`, retrying short writes and EINTR; other errors drop the rest (there
/// is nowhere left to report a failing standard error).
private func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += n
        }
    }
}
