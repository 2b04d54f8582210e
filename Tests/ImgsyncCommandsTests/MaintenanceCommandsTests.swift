import ArgumentParser
import Foundation
import Testing
@testable import ImgsyncCommands
import ImgsyncCore
import ImgsyncRepository
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `imgsync list|status`, `gc`, `verify`, `stats` as an operator runs them.
@Suite struct MaintenanceCommandsTests {
    final class Root {
        let path: String
        let repository: Repository
        init() throws {
            path = NSTemporaryDirectory() + "imgsync-cmd-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
            repository = try Repository(root: path)
        }
        deinit {
            // Trees hold read-only directories: make them writable on the way down.
            _ = try? FileManager.default.subpathsOfDirectory(atPath: path).forEach { chmod(path + "/" + $0, 0o755) }
            try? FileManager.default.removeItem(atPath: path)
        }

        @discardableResult
        func publish(_ name: String, _ files: [(String, String)]) throws -> PublishedImage {
            var t = TarBuilder()
            for (p, body) in files { t.file(p, body) }
            let b = try ImageBuilder(repository: repository, linkMode: .hardlink)
            try b.apply(LayerInput(source: BytesSource(t.build()), name: "L1", expect: LayerExpectations(compression: .none)))
            return try b.publish(as: try PublishedName(name))
        }
    }

    func objectPath(_ root: Root, _ body: String) -> String {
        root.path + "/" + ObjectStore.relativePath(of: SHA256Hasher.hash(Array(body.utf8)))
    }

    @Test func listShowsNamesStateAndPendingGC() throws {
        let r = try Root()
        let a = try r.publish("org/app:1", [("f", "12345"), ("g", "678")])
        let b = try r.publish("org/old:1", [("h", "gone")])
        var state = try r.repository.readState()
        let when = Date(timeIntervalSince1970: 1_700_000_000)
        let manifest = SHA256Hasher.hash(Array("manifest".utf8))
        state.names["org/app:1"] = NameRecord(name: "org/app:1", reference: "example.org/org/app:1", digest: manifest,
                                              manifestDigest: manifest, manifestMediaType: "application/vnd.oci.image.manifest.v1+json",
                                              imageID: a.imageID, platform: "linux/arm64", published: when, checked: when)
        state.lastSync = when
        state.unreferencedSince[b.imageID.hex] = when
        try r.repository.writeState(state)
        try r.repository.unpublish(try PublishedName("org/old:1"))

        let text = try ListCommand.parse(["--root", r.path, "--grace", "1h"]).execute()
        let line = text.split(separator: "\n").first { $0.hasPrefix("org/app:1") }.map(String.init) ?? ""
        #expect(line.contains(String(a.imageID.hex.prefix(12))), "\(text)")
        #expect(line.contains(String(manifest.hex.prefix(12))))
        #expect(line.contains("linux/arm64"))
        #expect(line.contains("8 B"), "size is the sum of file sizes: \(line)")
        #expect(line.contains("2023-11-14T22:13:20Z"))
        #expect(text.contains("\(b.imageID) 4 B: eligible at 2023-11-14T23:13:20Z"), "\(text)")
        #expect(!text.contains("org/old:1"))

        let json = try ListCommand.parse(["--root", r.path, "--json"]).execute()
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let status = try decoder.decode(RepositoryStatus.self, from: Data(json.utf8))
        #expect(status.names.map(\.name) == ["org/app:1"])
        #expect(status.names.first?.platform == "linux/arm64")
        #expect(status.names.first?.bytes == 8)
        #expect(status.pendingGC.map(\.imageID) == [b.imageID.description])
        #expect(status.pendingGC.first?.eligible == when.addingTimeInterval(2 * 86_400))
        #expect(status.lastSync == when)
    }

    @Test func statusIsAnAliasOfList() throws {
        let cmd = try Imgsync.parseAsRoot(["status", "--root", "/nonexistent"])
        #expect(cmd is ListCommand)
    }

    @Test func gcDryRunThenRealRun() throws {
        let r = try Root()
        let img = try r.publish("org/tmp:1", [("only", "only-here")])
        try r.repository.unpublish(try PublishedName("org/tmp:1"))
        let now = Date()
        let first = try GCCommand.parse(["--root", r.path, "--grace", "0s"]).execute(now: now)
        #expect(first.exitCode == 0)
        #expect(first.output.contains("unreferenced: \(img.imageID)"), "\(first.output)")
        let dry = try GCCommand.parse(["--root", r.path, "--grace", "0s", "--dry-run"]).execute(now: now.addingTimeInterval(1))
        #expect(dry.output.contains("would delete tree .images/\(img.imageID.hex.prefix(2))/\(img.imageID.hex.dropFirst(2))"), "\(dry.output)")
        #expect(dry.output.contains("would delete \(ObjectStore.relativePath(of: SHA256Hasher.hash(Array("only-here".utf8))))"))
        #expect(FileManager.default.fileExists(atPath: img.treePath))
        let real = try GCCommand.parse(["--root", r.path, "--grace", "0s", "--json"]).execute(now: now.addingTimeInterval(1))
        #expect(real.exitCode == 0)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let report = try decoder.decode(GCReport.self, from: Data(real.output.utf8))
        #expect(report.treesDeleted == [img.imageID.hex])
        #expect(report.bytesFreed == Int64("only-here".utf8.count), "the object's inode was the last link")
        #expect(!FileManager.default.fileExists(atPath: img.treePath))
        #expect(!FileManager.default.fileExists(atPath: objectPath(r, "only-here")))
    }

    @Test func gcRejectsABadGracePeriod() {
        #expect(throws: (any Error).self) { try GCCommand.parse(["--root", "/x", "--grace", "2 days"]) }
        #expect(throws: (any Error).self) { try GCCommand.parse(["--root", "/x", "--max-deletions", "-1"]) }
    }

    @Test func verifyExitCodeFollowsRemainingProblems() throws {
        let r = try Root()
        let img = try r.publish("org/v:1", [("a", "alpha"), ("b", "beta")])
        let clean = try VerifyCommand.parse(["--root", r.path]).execute()
        #expect(clean.exitCode == 0, "\(clean.output)")
        #expect(clean.output.contains("0 problems found"))

        chmod(img.treePath, 0o755)
        unlink(img.treePath + "/b")
        let broken = try VerifyCommand.parse(["--root", r.path]).execute()
        #expect(broken.exitCode == 1)
        #expect(broken.output.contains("image \(img.imageID) (org/v:1) path \"b\": missing"), "\(broken.output)")

        let repaired = try VerifyCommand.parse(["--root", r.path, "--repair"]).execute()
        #expect(repaired.exitCode == 0, "\(repaired.output)")
        #expect(repaired.output.contains("1 tree rebuilt"))
        #expect(FileManager.default.contents(atPath: img.treePath + "/b") == Data("beta".utf8))
    }

    @Test func statsTextAndJSON() throws {
        let r = try Root()
        try r.publish("org/s:1", [("a", "shared-body"), ("b", "xyz")])
        try r.publish("org/s:2", [("a", "shared-body"), ("c", "other")])
        let json = try StatsCommand.parse(["--root", r.path, "--json"]).execute()
        let s = try JSONDecoder().decode(RepositoryStats.self, from: Data(json.utf8))
        let stored = Int64("shared-body".utf8.count + "xyz".utf8.count + "other".utf8.count)
        let published = Int64(2 * "shared-body".utf8.count + "xyz".utf8.count + "other".utf8.count)
        #expect(s.objects == 3)
        #expect(s.objectBytes == stored)
        #expect(s.catalogBytes == published)
        #expect(s.trees == 2 && s.names == 2)
        let text = try StatsCommand.parse(["--root", r.path]).execute()
        #expect(text.contains(String(format: "%.2f", Double(published) / Double(stored))), "\(text)")
        #expect(text.contains("objects"))
    }
}
