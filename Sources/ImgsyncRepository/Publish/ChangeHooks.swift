import Foundation

/// The commands a publisher runs around a change to the root (design §3 step 8): for a CVMFS
/// repository `cvmfs_server transaction` before and `cvmfs_server publish` after, since the root is
/// read-only outside a transaction. Every command that writes under the root takes them
/// (`sync`, `gc`, `verify --repair`, `add --sync`) and runs them only when it has something to
/// change, with `IMGSYNC_ROOT` set to the root.
public struct ChangeHooks: Sendable {
    public var before: String?
    public var after: String?

    public init(before: String? = nil, after: String? = nil) {
        self.before = before
        self.after = after
    }

    public var isEmpty: Bool { before == nil && after == nil }

    /// Runs the before-change hook, if any; a failure is a configuration error (nothing changed).
    public func runBefore(root: String, log: (String) -> Void = { _ in }) throws {
        if let before { try ChangeHooks.run(before, what: "before-change", root: root, log: log) }
    }

    /// Runs the after-change hook, if any.
    public func runAfter(root: String, log: (String) -> Void = { _ in }) throws {
        if let after { try ChangeHooks.run(after, what: "after-change", root: root, log: log) }
    }

    public static func run(_ command: String, what: String, root: String, log: (String) -> Void) throws {
        log("running the \(what) hook: \(command)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        var env = ProcessInfo.processInfo.environment
        env["IMGSYNC_ROOT"] = root
        p.environment = env
        do {
            try p.run()
        } catch {
            throw ImgsyncError(.config, "the \(what) hook `\(command)` could not be started: \(Repository.reason(error))")
        }
        p.waitUntilExit()
        if p.terminationStatus != 0 {
            throw ImgsyncError(.config, "the \(what) hook `\(command)` exited with status \(p.terminationStatus)")
        }
    }
}
