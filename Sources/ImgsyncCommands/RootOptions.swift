import ArgumentParser
import Foundation
import ImgsyncCore
import ImgsyncRepository

/// `--root` for every command that works on a repository; `$IMGSYNC_ROOT` when it is not given.
struct RootOption: ParsableArguments {
    @Option(name: .customLong("root"), help: "The repository root (default: $IMGSYNC_ROOT).")
    var value: String?

    init() {}

    /// The root given, or `IMGSYNC_ROOT` (an empty value counts as unset).
    var path: String? {
        value ?? ProcessInfo.processInfo.environment["IMGSYNC_ROOT"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func validate() throws {
        if path == nil { throw ValidationError("give --root or set IMGSYNC_ROOT") }
    }

    /// The existing repository at the root: a path that is not one is refused (exit 2), never
    /// created (only `sync`, `apply` and `add --sync` create repositories).
    func existing() throws -> Repository {
        try Repository(root: path!, create: false)
    }
}

/// What every command that writes under the root takes besides `--root` (`gc`, `verify --repair`;
/// `sync` and `add --sync` have the same options): the lock and the hooks around the change.
struct ChangeOptions: ParsableArguments {
    @Flag(name: .long, help: "Wait for the repository lock instead of failing when another imgsync holds it.")
    var wait = false

    @Option(name: .customLong("lock-file"), help: ArgumentHelp(
        "Lock file (default: $IMGSYNC_LOCK_FILE, else <root>/.imgsync/lock).",
        discussion: "Put it outside the root when the root is read-only between transactions (CVMFS)."))
    var lockFile: String?

    @Option(name: .customLong("before-change"), help: "Shell command run before the first change (e.g. 'cvmfs_server transaction repo').")
    var beforeChange: String?

    @Option(name: .customLong("after-change"), help: "Shell command run after the changes (e.g. 'cvmfs_server publish repo').")
    var afterChange: String?

    init() {}

    var hooks: ChangeHooks { ChangeHooks(before: beforeChange, after: afterChange) }

    /// Takes the repository lock as these options say.
    func lock(_ repository: Repository) throws {
        try repository.lock(wait: wait, at: lockFile)
    }
}
