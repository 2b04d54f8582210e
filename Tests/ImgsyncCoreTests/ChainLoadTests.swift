import Foundation
import Testing
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncBase
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A tree built from a chain catalog (`ImageBuilder.start(from:)`): the stored bodies are linked by
/// the writer's threads, every file is the object's inode, and a body missing from the store fails
/// the build with an error naming the path, leaving nothing published.
@Suite struct ChainLoadTests {
    static func layer() -> [UInt8] {
        var t = TarBuilder()
        t.dir("d/", mode: 0o755)
        for i in 0..<3_000 { t.file("d/f\(i)", "body \(i)\n", mode: i % 3 == 0 ? 0o755 : 0o644) }
        t.symlink("d/link", target: "f1")
        t.file("d/empty", "")
        return t.build()
    }

    /// Publishes one image of `layer()` and returns its DiffID.
    static func publishFirst(_ s: LayerSandbox) throws -> Digest {
        let builder = try ImageBuilder(repository: s.repository, linkMode: .hardlink)
        let digests = try builder.apply(LayerInput(source: BytesSource(layer()), name: "L1", expect: LayerExpectations(compression: .none)))
        _ = try builder.publish(as: try PublishedName("org/one:1"))
        return digests.diffID
    }

    @Test func aTreeFromAChainCatalogLinksEveryStoredBody() throws {
        let s = try LayerSandbox()
        let diffID = try Self.publishFirst(s)
        let (k, catalog) = try #require(try s.repository.longestKnownChain([diffID]))
        #expect(k == 1)
        let builder = try ImageBuilder(repository: s.repository, linkMode: .hardlink)
        try builder.start(from: catalog, diffIDs: [diffID])
        var extra = TarBuilder()
        extra.file("new", "a new body\n")
        _ = try builder.apply(LayerInput(source: BytesSource(extra.build()), name: "L2", expect: LayerExpectations(compression: .none)))
        let published = try builder.publish(as: try PublishedName("org/two:1"))
        #expect(published.entries == catalog.count + 1)
        for i in 0..<3_000 {
            let a = try #require(lstatPath(s.root + "/org/one:1/d/f\(i)")), b = try #require(lstatPath(s.root + "/org/two:1/d/f\(i)"))
            #expect(a.st_ino == b.st_ino, "d/f\(i) is not the stored body's inode")
        }
        #expect(try String(contentsOfFile: s.root + "/org/two:1/d/link", encoding: .utf8) == "body 1\n")
        #expect(lstatPath(s.root + "/org/two:1/d/empty")?.st_size == 0)
    }

    @Test func aMissingBodyFailsTheBuildAndNamesThePath() throws {
        let s = try LayerSandbox()
        let diffID = try Self.publishFirst(s)
        let (_, catalog) = try #require(try s.repository.longestKnownChain([diffID]))
        let victim = try #require(catalog.first { $0.path == Array("d/f2500".utf8) }?.sha256)
        let hex = victim.hex
        let objects = s.root + "/.objects/" + hex.prefix(2)
        for name in try FileManager.default.contentsOfDirectory(atPath: objects) where name.hasPrefix(String(hex.dropFirst(2))) {
            #expect(unlink(objects + "/" + name) == 0)
        }
        let builder = try ImageBuilder(repository: s.repository, linkMode: .hardlink)
        do {
            try builder.start(from: catalog, diffIDs: [diffID])
            Issue.record("a tree was loaded without the body of d/f2500")
        } catch let e as ImgsyncError {
            #expect(e.code == .corruptObject)
            #expect(e.message.contains("d/f2500") && e.message.contains(hex), "\(e.message)")
        }
        #expect(!FileManager.default.fileExists(atPath: s.root + "/org/two:1"))
    }

    /// Link groups interleaved with other files: every further name is linked after the writer
    /// made the first one, and the group stays one inode (the stored body's, for regular files).
    @Test func linkGroupsStayOneInodeInATreeFromAChainCatalog() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.dir("g/", mode: 0o755)
        for i in 0..<200 {
            t.file("g/a\(i)", "group \(i)\n")
            t.file("g/x\(i)", "other \(i)\n")
            t.hardlink("g/b\(i)", target: "g/a\(i)")
            if i % 50 == 0 { t.hardlink("g/c\(i)", target: "g/a\(i)") }
        }
        t.file("g/empty", "")
        t.hardlink("g/empty2", target: "g/empty")
        let first = try ImageBuilder(repository: s.repository, linkMode: .hardlink)
        let diffID = try first.apply(LayerInput(source: BytesSource(t.build()), name: "L1", expect: LayerExpectations(compression: .none))).diffID
        _ = try first.publish(as: try PublishedName("org/one:1"))
        let (_, catalog) = try #require(try s.repository.longestKnownChain([diffID]))
        let builder = try ImageBuilder(repository: s.repository, linkMode: .hardlink)
        try builder.start(from: catalog, diffIDs: [diffID])
        #expect(builder.snapshot() == catalog, "the loaded model is the catalog")
        _ = try builder.publish(as: try PublishedName("org/two:1"))
        for i in 0..<200 {
            let a = try #require(lstatPath(s.root + "/org/two:1/g/a\(i)")), b = try #require(lstatPath(s.root + "/org/two:1/g/b\(i)"))
            let old = try #require(lstatPath(s.root + "/org/one:1/g/a\(i)"))
            #expect(a.st_ino == b.st_ino && a.st_ino == old.st_ino, "g/a\(i) and g/b\(i)")
            if i % 50 == 0 { #expect(lstatPath(s.root + "/org/two:1/g/c\(i)")?.st_ino == a.st_ino) }
        }
        let e1 = try #require(lstatPath(s.root + "/org/two:1/g/empty")), e2 = try #require(lstatPath(s.root + "/org/two:1/g/empty2"))
        #expect(e1.st_ino == e2.st_ino && e1.st_size == 0)
    }
}
