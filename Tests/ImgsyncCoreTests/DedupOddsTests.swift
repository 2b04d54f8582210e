import Foundation
import Testing
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Hardlink mode skips the lookup before writing a small file while a build's bodies are nearly
/// all new (`DedupOdds`), and still shares every body that was stored: the file written is then
/// replaced by a link to the object.
@Suite struct DedupOddsTests {
    @Test func lookupsStopWhenBodiesAreNewAndResumeWhenTheyAreNot() {
        var odds = DedupOdds()
        for _ in 0..<(DedupOdds.window - 1) { odds.note(stored: false) }
        #expect(!odds.skipLookups, "decided before a window was seen")
        odds.note(stored: false)
        #expect(odds.skipLookups)
        // One in `rarely` found stored is enough to look again.
        for i in 0..<DedupOdds.window { odds.note(stored: i % DedupOdds.rarely == 0) }
        #expect(!odds.skipLookups)
        for i in 0..<DedupOdds.window { odds.note(stored: i < DedupOdds.window / DedupOdds.rarely - 1) }
        #expect(odds.skipLookups)
    }

    @Test func storedBodiesAreSharedWhileLookupsAreSkipped() throws {
        let s = try LayerSandbox()
        var one = TarBuilder()
        for i in 0..<2_000 { one.file("one/f\(i)", "body \(i)\n") }
        let first = try s.apply([one.build()], name: "org/one:1")
        // New bodies first (the store stops looking), then 500 bodies the first image stored.
        var two = TarBuilder()
        for i in 0..<1_500 { two.file("new/f\(i)", "other body \(i)\n") }
        for i in 0..<500 { two.file("old/f\(i)", "body \(i)\n") }
        let second = try s.apply([two.build()], name: "org/two:1")
        for i in 0..<500 {
            let a = try #require(lstatPath(first.tree + "/one/f\(i)")), b = try #require(lstatPath(second.tree + "/old/f\(i)"))
            #expect(a.st_ino == b.st_ino, "old/f\(i) was written again instead of linked to the stored body")
        }
        #expect(ObjectStoreAccountingTests.objectInodes(s.root).count == 3_500)
        // Nothing of the replaced files is left behind in the tree.
        let names = try FileManager.default.contentsOfDirectory(atPath: second.tree + "/old")
        #expect(names.count == 500 && names.allSatisfy { $0.hasPrefix("f") })
    }

    /// Only the file writer may be told "not stored" while lookups are skipped: loading a tree
    /// from a catalog (and copying a hard-linked file) must find every stored body, or a build
    /// from a chain catalog would fail with "the object store has no body".
    @Test func onlyTheWriterSkipsLookups() throws {
        let s = try LayerSandbox()
        var one = TarBuilder()
        one.file("f", "a stored body\n", mode: 0o644)
        let first = try s.apply([one.build()], name: "org/one:1")
        let entry = try #require(first.catalog.first { $0.path == Array("f".utf8) })
        let digest = try #require(entry.sha256)
        let store = try ObjectStore(repositoryFd: s.repository.rootFd, mode: .hardlink)
        defer { store.end() }
        for _ in 0..<DedupOdds.window { store.odds.note(stored: false) }
        #expect(store.odds.skipLookups)
        let dir = open(s.base, O_RDONLY | O_DIRECTORY)
        try #require(dir >= 0)
        defer { close(dir) }
        #expect(try store.placeExisting(digest, size: entry.size, mode: entry.mode, sec: entry.mtime, nsec: entry.mtimeNsec,
                                        dirfd: dir, name: Array("by-writer".utf8), mayWrite: true) == .absent)
        #expect(try store.placeExisting(digest, size: entry.size, mode: entry.mode, sec: entry.mtime, nsec: entry.mtimeNsec,
                                        dirfd: dir, name: Array("by-loader".utf8)) == .canonical)
        let linked = try #require(lstatPath(s.base + "/by-loader")), original = try #require(lstatPath(first.tree + "/f"))
        #expect(linked.st_ino == original.st_ino)
    }
}
