import ArgumentParser
import Foundation
import Testing
@testable import ImgsyncCommands
import ImgsyncCore
import ImgsyncRepository
import ImgsyncSync
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Issue 8, item 6: a hint names only options the command printing it has (`apply` suggested
/// `--wait` and `--lock-file`, which it lacks).
@Suite(.serialized) struct CommandHintsTests {
    final class Root {
        let path = NSTemporaryDirectory() + "imgsync-hints-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let blob: String
        init() throws {
            _ = try Repository(root: path)
            blob = path + ".tar"
            var t = TarBuilder()
            t.file("f", "body")
            try Data(t.build()).write(to: URL(fileURLWithPath: blob))
        }
        deinit {
            Repository.removeTree(path)
            unlink(blob)
        }
    }

    func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test func aHeldLockSuggestsWaitOnlyWhereTheCommandHasIt() throws {
        let r = try Root()
        let holder = try Repository(root: r.path, create: false)
        try holder.lock()
        let apply = message { try ApplyCommand.parse(["--root", r.path, "--name", "org/app:1", r.blob]).run() }
        #expect(apply.contains("locked by another imgsync process"), "\(apply)")
        #expect(!apply.contains("--"), "apply has no such option: \(apply)")
        let gc = message { _ = try GCCommand.parse(["--root", r.path]).execute() }
        #expect(gc.contains("pass --wait"), "\(gc)")
        let verify = message { _ = try VerifyCommand.parse(["--root", r.path]).execute() }
        #expect(verify.contains("pass --wait"), "\(verify)")
    }

    @Test(.enabled(if: getuid() == 0, "remounting a tmpfs read-only needs root"))
    func aReadOnlyRootSuggestsLockFileOnlyWhereTheCommandHasIt() throws {
        let dir = NSTemporaryDirectory() + "imgsync-ro-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { rmdir(dir) }
        try #require(mount("imgsync-test", dir, "tmpfs", 0, "size=8m") == 0, "mount: \(String(cString: strerror(errno)))")
        defer { umount(dir) }
        let root = dir + "/root"
        _ = try Repository(root: root)
        var t = TarBuilder()
        t.file("f", "body")
        let blob = dir + "/layer.tar"
        try Data(t.build()).write(to: URL(fileURLWithPath: blob))
        unlink(root + "/.imgsync/lock")
        try #require(mount("imgsync-test", dir, "tmpfs", UInt(MS_REMOUNT | MS_RDONLY), nil) == 0, "remount: \(String(cString: strerror(errno)))")

        let apply = message { try ApplyCommand.parse(["--root", root, "--name", "org/app:1", blob]).run() }
        #expect(apply.contains("read-only"), "\(apply)")
        #expect(!apply.contains("--"), "apply has no such option: \(apply)")
        let gc = message { _ = try GCCommand.parse(["--root", root]).execute() }
        #expect(gc.contains("--lock-file") && gc.contains("--before-change"), "\(gc)")
    }

    @Test func keepRegistryAdviceFollowsTheCommand() {
        let sync = message { _ = try PathSettings.keepRegistry(requested: true, recorded: false, migrate: false, root: "/r") }
        #expect(sync.contains("--no-keep-registry") && sync.contains("or --migrate-paths"), "\(sync)")
        // `add` has --keep-registry only.
        let add = message { _ = try PathSettings.keepRegistry(requested: true, recorded: false, migrate: false, root: "/r", syncOptions: false) }
        #expect(!add.contains("--no-keep-registry"), "\(add)")
        #expect(add.contains("Leave out --keep-registry"), "\(add)")
        #expect(add.contains("`imgsync sync --migrate-paths`"), "\(add)")
    }
}
