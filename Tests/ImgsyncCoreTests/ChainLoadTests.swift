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

    /// The chain catalog says which bodies' canonical objects have the file's metadata (the first
    /// file of a body stored it; the other file of that body, with another mode, got a variant inode;
    /// empty files are not objects). A tree loaded from it links those without looking at the
    /// object first, which shows when the object was changed behind imgsync's back: trusted, the
    /// tree gets the changed inode (`verify` reports such a tree); with the hint cleared, the object
    /// is looked at, its metadata does not match, and the load fails as for a missing body.
    @Test func theCanonicalObjectHintIsRecordedAndTrusted() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.file("a", "shared body\n", mode: 0o644)
        t.file("b", "shared body\n", mode: 0o755)
        t.file("c", "own body\n", mode: 0o644)
        t.file("e", "")
        let layer = t.build()
        let first = try s.apply([layer], name: "org/one:1")
        let hints = Dictionary(uniqueKeysWithValues: first.catalog.map { (String(decoding: $0.path, as: UTF8.self), $0.canonicalObject) })
        // a and b share a body: whichever writer thread stored it first made the canonical object.
        #expect(hints["a"] != hints["b"])
        #expect(hints[""] == false && hints["c"] == true && hints["e"] == false && hints.count == 5)
        let diffID = SHA256Hasher.hash(layer)
        let chain = try #require(try s.repository.readCatalog(chain: diffID))
        #expect(chain.map(\.canonicalObject) == first.catalog.map(\.canonicalObject))

        func load(_ catalog: [CatalogEntry], as name: String) throws -> PublishedImage {
            let builder = try ImageBuilder(repository: s.repository, linkMode: .hardlink)
            try builder.start(from: catalog, diffIDs: [diffID])
            return try builder.publish(as: try PublishedName(name), imageID: SHA256Hasher.hash(Array(name.utf8)))
        }
        // Untouched objects: the same tree either way, and the loaded tree's catalog has the hints
        // its own placement found.
        let hinted = try load(chain, as: "org/hinted:1")
        #expect(TreeAudit.differences(tree: hinted.treePath, catalog: first.catalog, shared: true).isEmpty)
        #expect(try s.repository.readCatalog(image: hinted.imageID).map(\.canonicalObject) == chain.map(\.canonicalObject))
        let plain = try load(chain.map { var e = $0; e.canonicalObject = false; return e }, as: "org/plain:1")
        #expect(TreeAudit.differences(tree: plain.treePath, catalog: first.catalog, shared: true).isEmpty)
        #expect(try s.repository.readCatalog(image: plain.imageID).map(\.canonicalObject) == chain.map(\.canonicalObject))

        // The canonical object of c's body changed from outside (its mode).
        let c = try #require(chain.first { $0.path == Array("c".utf8) }?.sha256)
        let object = s.root + "/.objects/" + c.hex.prefix(2) + "/" + c.hex.dropFirst(2)
        #expect(chmod(object, 0o400) == 0)
        let trusted = try load(chain, as: "org/trusted:1")
        #expect(lstatPath(trusted.treePath + "/c").map { $0.st_mode & 0o7777 } == 0o400, "the hint was not trusted")
        #expect(lstatPath(trusted.treePath + "/c")?.st_ino == lstatPath(object)?.st_ino)
        #expect(!TreeAudit.differences(tree: trusted.treePath, catalog: first.catalog, shared: true).isEmpty)
        #expect { try load(chain.map { var e = $0; e.canonicalObject = false; return e }, as: "org/checked:1") } throws: { error in
            (error as? ImgsyncError)?.code == .corruptObject && (error as? ImgsyncError)?.message.contains("c") == true
        }
    }
}
