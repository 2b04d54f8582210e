import Foundation

/// What the running builds are doing, for the status area on a terminal (docs/design.md §5: progress bars on
/// a terminal, plain log lines otherwise). The area is drawn by the `TerminalWriter` that log lines
/// go through too, so the two never garble each other.
final class ProgressBoard: @unchecked Sendable {
    // @unchecked: all mutable state is guarded by `lock`.
    private struct Build {
        var layer = 0
        var layers = 0
        var size: Int64 = 0
        var bridge: BlobBridge?
    }

    private let terminal: TerminalWriter
    private let lock = NSLock()
    private var builds: [String: Build] = [:]
    private var done = 0
    private var total = 0
    /// Whether `display()` is drawing: a change then shows at once, not at the next tick.
    private var showing = false

    init(terminal: TerminalWriter = .standardError) {
        self.terminal = terminal
    }

    func begin(total: Int) {
        lock.withLock { self.total = total }
    }

    func layer(_ name: String, _ index: Int, of count: Int, size: Int64, bridge: BlobBridge) {
        lock.withLock { builds[name] = Build(layer: index, layers: count, size: size, bridge: bridge) }
        redraw()
    }

    func finished(_ name: String) {
        lock.withLock {
            builds.removeValue(forKey: name)
            done += 1
        }
        redraw()
    }

    private func redraw() {
        if lock.withLock({ showing }) { terminal.setStatus(lines()) }
    }

    /// One line per build that is fetching a layer, by name: `[2/7] org/a:1 layer 3/5 41%`, where
    /// 2/7 counts the builds finished out of those to do.
    func lines() -> [String] {
        let (builds, done, total) = lock.withLock { (self.builds, self.done, self.total) }
        return builds.sorted { $0.key < $1.key }.map { name, b in
            let got = b.bridge?.delivered ?? 0
            let percent = b.size > 0 ? min(100, Int(got * 100 / b.size)) : 0
            return "[\(done)/\(total)] \(name) layer \(b.layer)/\(b.layers) \(percent)%"
        }
    }

    /// Redraws the status area every half second until cancelled, then removes it; only on a
    /// terminal (nil otherwise).
    func display() -> Task<Void, Never>? {
        guard terminal.isTerminal else { return nil }
        lock.withLock { showing = true }
        return Task.detached { [self] in
            while !Task.isCancelled {
                terminal.setStatus(lines())
                try? await Task.sleep(nanoseconds: 500_000_000)
            }
            lock.withLock { showing = false }
            terminal.clearStatus()
        }
    }
}
