import Foundation
import ImgsyncCore
import ImgsyncRepository
import ImgsyncRegistry
import ImgsyncTestSupport
import Logging
import Testing
@testable import ImgsyncSync

/// The CVMFS publisher's setup: the root is read-only except inside a transaction, which the
/// before-change hook opens and the after-change hook publishes. A read-only bind mount of the root
/// stands in for CVMFS, and the hooks remount it read-write and back. With nothing to change the sync
/// writes nothing and runs no hook; with a change it writes only between the hooks.
@Suite(.serialized, .timeLimit(.minutes(5))) struct SyncReadOnlyRootTests {
    static func sh(_ command: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        try p.runSerialized()
        p.waitUntilExit()
        if p.terminationStatus != 0 { throw ImgsyncError(.io, "`\(command)` exited with \(p.terminationStatus)") }
    }

    /// The end-to-end suite's sync helper (the engine with the sandbox metadata, as `imgsync sync`).
    func sync(_ env: FakeEnvironment, root: String, _ targets: [SyncTarget], configure: (inout SyncOptions) -> Void = { _ in }) async throws -> SyncReport {
        try await SyncEndToEndTests().sync(env, root: root, targets, configure: configure)
    }

    func target(_ reg: LocalRegistry, _ repoTag: String) throws -> SyncTarget {
        SyncTarget(name: try PublishedName(repoTag), reference: try ImageReference(parsing: "\(reg.name)/\(repoTag)"),
                   platform: .linuxAMD64, origin: "test:1")
    }

    @Test(.enabled(if: getuid() == 0, "bind mounts need root"))
    func aReadOnlyRootIsWrittenOnlyBetweenTheHooks() async throws {
        try await withFakeEnvironment { env in
            let reg = try await SyncEndToEndTests.appRegistry(env)
            let root = env.dir.file("root")
            let lock = env.dir.file("imgsync.lock")
            let before = env.dir.file("before-ran"), after = env.dir.file("after-ran")
            let one = [try target(reg, "org/app:1")]
            let r0 = try await sync(env, root: root, one)
            #expect(r0.exitCode == 0, "\(r0.text())")

            try Self.sh("mount --bind '\(root)' '\(root)' && mount -o remount,ro,bind '\(root)'")
            defer { try? Self.sh("umount '\(root)'") }
            #expect(access(root, W_OK) != 0, "the root is read-only now")
            func hooks(_ o: inout SyncOptions) {
                o.lockFile = lock
                o.beforeChange = "touch '\(before)' && mount -o remount,rw,bind \"$IMGSYNC_ROOT\""
                o.afterChange = "mount -o remount,ro,bind \"$IMGSYNC_ROOT\" && touch '\(after)'"
            }

            // Without a lock file outside it, the read-only root is a clear configuration error.
            let refused = await #expect(throws: ImgsyncError.self) {
                _ = try await sync(env, root: root, one) { $0.beforeChange = "true" }
            }
            #expect(refused?.description.contains("--lock-file") == true && refused?.description.contains("read-only") == true,
                    "\(String(describing: refused))")

            // Nothing to change: no hook, nothing written (a write would fail with EROFS), exit 0.
            let r1 = try await sync(env, root: root, one, configure: hooks)
            #expect(r1.exitCode == 0, "\(r1.text())")
            #expect(r1.rootUntouched)
            #expect(r1.count(.unchanged) == 1)
            #expect(!FileManager.default.fileExists(atPath: before) && !FileManager.default.fileExists(atPath: after))

            // A new entry: the hooks open and close the "transaction" around the build.
            let r2 = try await sync(env, root: root, one + [try target(reg, "org/app:2")], configure: hooks)
            #expect(r2.exitCode == 0, "\(r2.text())")
            #expect(r2.count(.added) == 1 && r2.count(.unchanged) == 1, "\(r2.text())")
            #expect(FileManager.default.fileExists(atPath: before) && FileManager.default.fileExists(atPath: after))
            #expect(try String(contentsOfFile: root + "/org/app:2/app/version", encoding: .utf8) == "1.1\n")
            #expect(access(root, W_OK) != 0, "the after-change hook made the root read-only again")
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/.imgsync/staging").isEmpty)

            // Dropping the entry is a change too: unpublished inside the transaction.
            try FileManager.default.removeItem(atPath: before)
            let r3 = try await sync(env, root: root, [try target(reg, "org/app:2")]) {
                hooks(&$0)
                $0.force = true
            }
            #expect(r3.removed == ["org/app:1"], "\(r3.text())")
            #expect(FileManager.default.fileExists(atPath: before))
            #expect(!FileManager.default.fileExists(atPath: root + "/org/app:1"))
        }
    }

    /// Issue 10 item 7: the first sync into an empty read-only root (a new CVMFS repository) runs
    /// the before-change hook before it creates anything, then builds inside the "transaction".
    @Test(.enabled(if: getuid() == 0, "bind mounts need root"))
    func theFirstSyncIntoAnEmptyReadOnlyRootRunsTheHookFirst() async throws {
        try await withFakeEnvironment { env in
            let reg = try await SyncEndToEndTests.appRegistry(env)
            let root = env.dir.file("root")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try Self.sh("mount --bind '\(root)' '\(root)' && mount -o remount,ro,bind '\(root)'")
            defer { try? Self.sh("umount '\(root)'") }
            let before = env.dir.file("before-ran")
            let r = try await sync(env, root: root, [try target(reg, "org/app:1")]) { o in
                o.lockFile = env.dir.file("imgsync.lock")
                // The hook records what the root held when it ran: nothing.
                o.beforeChange = "ls -A \"$IMGSYNC_ROOT\" > '\(before)' && mount -o remount,rw,bind \"$IMGSYNC_ROOT\""
                o.afterChange = "mount -o remount,ro,bind \"$IMGSYNC_ROOT\""
            }
            #expect(r.exitCode == 0, "\(r.text())")
            #expect(try String(contentsOfFile: before, encoding: .utf8) == "", "the root was empty when the hook ran")
            #expect(try String(contentsOfFile: root + "/org/app:1/app/version", encoding: .utf8) == "1.0\n")
            #expect(access(root, W_OK) != 0)
        }
    }

    /// Issue 10 item 7: `gc` and `verify --repair` take the lock file and the hooks too; with
    /// nothing to change they run no hook and write nothing, with a change they write only
    /// between the hooks.
    @Test(.enabled(if: getuid() == 0, "bind mounts need root"))
    func gcAndRepairWriteOnlyBetweenTheirHooks() async throws {
        try await withFakeEnvironment { env in
            let reg = try await SyncEndToEndTests.appRegistry(env)
            let root = env.dir.file("root")
            let r0 = try await sync(env, root: root, [try target(reg, "org/app:1"), try target(reg, "org/app:2")])
            #expect(r0.exitCode == 0, "\(r0.text())")
            try Self.sh("mount --bind '\(root)' '\(root)' && mount -o remount,ro,bind '\(root)'")
            defer { try? Self.sh("umount '\(root)'") }
            let ran = env.dir.file("hooks-ran")
            let hooks = ["--lock-file", env.dir.file("imgsync.lock"),
                         "--before-change", "echo before >> '\(ran)' && mount -o remount,rw,bind \"$IMGSYNC_ROOT\"",
                         "--after-change", "mount -o remount,ro,bind \"$IMGSYNC_ROOT\" && echo after >> '\(ran)'"]
            func imgsync(_ arguments: [String]) async throws -> (Int32, String) {
                do { return (0, try await ChildProcess.run([imgsyncExecutable] + arguments)) } catch let f as CommandFailed { return (f.status, f.output) }
            }
            func hookLog() -> String { (try? String(contentsOfFile: ran, encoding: .utf8)) ?? "" }

            // Nothing to collect, nothing to repair: no hook, and the read-only root is not a problem.
            let gc0 = try await imgsync(["gc", "--root", root, "--grace", "0s"] + hooks)
            #expect(gc0.0 == 0 && gc0.1.contains("nothing to change"), "\(gc0.1)")
            let v0 = try await imgsync(["verify", "--repair", "--root", root] + hooks)
            #expect(v0.0 == 0, "\(v0.1)")
            #expect(hookLog() == "")

            // A tree to repair: the hooks open and close the change around the repair.
            let version = root + "/org/app:1/app/version"
            try Self.sh("mount -o remount,rw,bind '\(root)' && chmod 0600 \"$(readlink -f '\(version)')\" && mount -o remount,ro,bind '\(root)'")
            let v1 = try await imgsync(["verify", "--repair", "--root", root] + hooks)
            #expect(v1.0 == 0, "\(v1.1)")
            #expect(hookLog() == "before\nafter\n", "\(hookLog())")
            #expect(access(root, W_OK) != 0)
            let v2 = try await imgsync(["verify", "--root", root, "--lock-file", env.dir.file("imgsync.lock")])
            #expect(v2.0 == 0 && v2.1.contains("0 problems found"), "\(v2.1)")

            // An unpublished tree to collect: the hooks run around gc.
            try Self.sh("mount -o remount,rw,bind '\(root)' && rm '\(root)/org/app:2' && mount -o remount,ro,bind '\(root)'")
            let gc1 = try await imgsync(["gc", "--root", root, "--grace", "0s"] + hooks)
            #expect(gc1.0 == 0, "\(gc1.1)")
            #expect(hookLog() == "before\nafter\nbefore\nafter\n", "\(hookLog())")
            #expect(access(root, W_OK) != 0)
        }
    }
}
