import Foundation
import Testing
@testable import ImgsyncSync

/// Log lines and the progress display on one standard error: bytes captured from a fake terminal.
@Suite struct TerminalWriterTests {
    /// Every chunk the writer emits, in order.
    final class Capture: @unchecked Sendable {
        // @unchecked: `chunks` is only touched under `lock`.
        private let lock = NSLock()
        private var stored: [[UInt8]] = []
        var chunks: [String] { lock.withLock { stored.map { String(decoding: $0, as: UTF8.self) } } }
        var text: String { chunks.joined() }
        func append(_ bytes: [UInt8]) { lock.withLock { stored.append(bytes) } }
    }

    func writer(terminal: Bool, width: Int = 40) -> (TerminalWriter, Capture) {
        let capture = Capture()
        return (TerminalWriter(isTerminal: terminal, columns: { width }, output: { capture.append($0) }), capture)
    }

    static let esc = "\u{1B}"

    @Test func withoutATerminalOnlyLogTextIsWritten() {
        let (w, out) = writer(terminal: false)
        w.setStatus(["[0/2] org/a:1 layer 1/3 10%"])
        w.write("first line\n")
        w.setStatus(["[0/2] org/a:1 layer 2/3 50%", "[0/2] org/b:1 layer 1/1 0%"])
        w.write("second line\n")
        w.clearStatus()
        #expect(out.text == "first line\nsecond line\n")
        #expect(!out.text.contains(Self.esc))
    }

    @Test func logLinesScrollAboveTheRedrawnStatusArea() {
        let (w, out) = writer(terminal: true)
        w.setStatus(["job a 10%", "job b 0%"])
        #expect(out.chunks == ["job a 10%\njob b 0%\n"], "one line per job, the cursor below them")
        w.write("2024 info imgsync.sync: org/a:1: fetching layer 2/3\n")
        // One chunk: up over the two status lines, erase, the whole log line, the status again.
        #expect(out.chunks.last == "\(Self.esc)[2A\(Self.esc)[J" + "2024 info imgsync.sync: org/a:1: fetching layer 2/3\n" + "job a 10%\njob b 0%\n")
        w.setStatus(["job a 60%"])
        #expect(out.chunks.last == "\(Self.esc)[2A\(Self.esc)[J" + "job a 60%\n")
        w.setStatus(["job a 60%"])
        #expect(out.chunks.count == 3, "an unchanged status area is not redrawn")
        w.clearStatus()
        #expect(out.chunks.last == "\(Self.esc)[1A\(Self.esc)[J")
        w.write("after\n")
        #expect(out.chunks.last == "after\n", "no status area: nothing to clear or redraw")
    }

    @Test func aLineWrittenInPiecesAppearsOnceComplete() {
        let (w, out) = writer(terminal: true)
        w.setStatus(["job"])
        w.write("part one, ")
        #expect(out.chunks.count == 1, "nothing written until the line is complete")
        w.write("part two\nand a third ")
        w.write("line\n")
        #expect(out.chunks[1] == "\(Self.esc)[1A\(Self.esc)[J" + "part one, part two\n" + "job\n")
        #expect(out.chunks[2] == "\(Self.esc)[1A\(Self.esc)[J" + "and a third line\n" + "job\n")
    }

    @Test func statusLinesFitTheWidthAndTheAreaIsBounded() {
        let (w, out) = writer(terminal: true, width: 20)
        w.setStatus([String(repeating: "x", count: 50), "a\u{1B}[31mred\nb"])
        let lines = out.text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.allSatisfy { $0.count <= 19 }, "\(lines)")
        #expect(lines.last == "a [31mred b", "no escape or newline from a line's text")
        let many = (1...12).map { "job \($0)" }
        w.setStatus(many)
        let redraw = String(out.chunks.last!.split(separator: "[J").last!)
        let shown = redraw.split(separator: "\n")
        #expect(shown.count == TerminalWriter.maxStatusLines)
        #expect(shown.last == "… and 5 more")
    }

    /// Builds log from several threads while the display redraws: every log line reaches the
    /// terminal whole, inside one chunk, and each chunk ends with the status area drawn in full.
    @Test func concurrentLogLinesStayWhole() async {
        let (w, out) = writer(terminal: true, width: 200)
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<4 {
                group.addTask {
                    for i in 0..<200 { w.write("thread \(t) line \(i) " + String(repeating: "=", count: 40) + "\n") }
                }
            }
            group.addTask {
                for i in 0..<200 { w.setStatus(["[0/2] org/a:1 layer 1/2 \(i % 100)%", "[0/2] org/b:1 layer 2/2 \(i % 50)%"]) }
            }
        }
        var seen = 0
        for chunk in out.chunks {
            let body = chunk.replacingOccurrences(of: "\(Self.esc)[2A\(Self.esc)[J", with: "")
            #expect(!body.contains(Self.esc), "a clear sequence in the middle of a chunk: \(chunk.debugDescription)")
            for line in body.split(separator: "\n") where line.hasPrefix("thread") {
                #expect(line.hasSuffix(String(repeating: "=", count: 40)), "cut line: \(line)")
                seen += 1
            }
        }
        #expect(seen == 800)
        let last = out.chunks.last!.split(separator: "\n").suffix(2)
        #expect(last.allSatisfy { $0.contains("[0/2] org/") }, "the status area is drawn after the last chunk")
    }

    @Test func theProgressBoardHasOneLinePerRunningBuild() async throws {
        let (w, out) = writer(terminal: true)
        let board = ProgressBoard(terminal: w)
        board.begin(total: 3)
        board.layer("org/b:1", 2, of: 4, size: 1000, bridge: BlobBridge())
        board.layer("org/a:1", 1, of: 1, size: 0, bridge: BlobBridge())
        #expect(board.lines() == ["[0/3] org/a:1 layer 1/1 0%", "[0/3] org/b:1 layer 2/4 0%"])
        board.finished("org/a:1")
        #expect(board.lines() == ["[1/3] org/b:1 layer 2/4 0%"])

        // While displayed, a change is drawn at once; stopping removes the area.
        let display = try #require(board.display())
        while out.chunks.isEmpty { try await Task.sleep(for: .milliseconds(5)) }  // its first tick; the next is 0.5 s away
        board.layer("org/c:1", 1, of: 2, size: 10, bridge: BlobBridge())
        #expect(out.chunks.last?.hasSuffix("[1/3] org/b:1 layer 2/4 0%\n[1/3] org/c:1 layer 1/2 0%\n") == true, "\(out.chunks)")
        board.finished("org/b:1")
        #expect(out.chunks.last == "\(Self.esc)[2A\(Self.esc)[J[2/3] org/c:1 layer 1/2 0%\n")
        display.cancel()
        await display.value
        #expect(out.chunks.last == "\(Self.esc)[1A\(Self.esc)[J")
        let (plain, _) = writer(terminal: false)
        #expect(ProgressBoard(terminal: plain).display() == nil, "no display without a terminal")
    }
}
