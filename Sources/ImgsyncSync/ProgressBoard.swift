import Foundation

/// What the running builds are doing, for the progress line on a terminal (docs/design.md §5: progress bars
/// on a terminal, plain log lines otherwise).
final class ProgressBoard: @unchecked Sendable {
    // @unchecked: all state is guarded by `lock`.
    private struct Build {
        var layer = 0
        var layers = 0
        var size: Int64 = 0
        var bridge: BlobBridge?
    }

    private let lock = NSLock()
    private var builds: [String: Build] = [:]
    private var done = 0
    private var total = 0
    private var stopped = false

    func begin(total: Int) {
        lock.withLock { self.total = total }
    }

    func layer(_ name: String, _ index: Int, of count: Int, size: Int64, bridge: BlobBridge) {
        lock.withLock { builds[name] = Build(layer: index, layers: count, size: size, bridge: bridge) }
    }

    func finished(_ name: String) {
        lock.withLock {
            builds.removeValue(forKey: name)
            done += 1
        }
    }

    /// One line: `[2/7] org/a:1 layer 3/5 41% · org/b:2 layer 1/1 90%`.
    func line(width: Int) -> String {
        let snapshot = lock.withLock { (builds, done, total) }
        var parts: [String] = []
        for (name, b) in snapshot.0.sorted(by: { $0.key < $1.key }) {
            let got = b.bridge?.delivered ?? 0
            let pct = b.size > 0 ? min(100, Int(got * 100 / b.size)) : 0
            parts.append("\(name) layer \(b.layer)/\(b.layers) \(pct)%")
        }
        var text = "[\(snapshot.1)/\(snapshot.2)] " + parts.joined(separator: " · ")
        if text.count > width - 1 { text = String(text.prefix(max(10, width - 2))) + "…" }
        return text
    }

    /// Redraws the line on standard error every half second until `stop()`; only on a terminal.
    func display() -> Task<Void, Never>? {
        guard isatty(2) != 0 else { return nil }
        return Task.detached { [self] in
            while !Task.isCancelled {
                var ws = winsize()
                let width = ioctl(2, UInt(TIOCGWINSZ), &ws) == 0 && ws.ws_col > 0 ? Int(ws.ws_col) : 100
                FileHandle.standardError.write(Data(("\r\u{1B}[K" + line(width: width)).utf8))
                try? await Task.sleep(nanoseconds: 500_000_000)
            }
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        }
    }
}
