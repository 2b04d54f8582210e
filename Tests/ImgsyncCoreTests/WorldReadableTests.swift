import Foundation
import Testing
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `--world-readable` (docs/design.md §2): trees a+rX on disk for CVMFS clients, where every user is
/// "other"; catalogs keep the layers' modes; `verify` expects (and `--repair` rebuilds) the widened
/// modes; a repository is one or the other.
@Suite struct WorldReadableTests {
    static func layer() -> [UInt8] {
        var t = TarBuilder()
        t.dir("secret/", mode: 0o700)
        t.file("secret/key", "same body", mode: 0o600)
        t.file("etc/conf", "same body", mode: 0o644)
        t.file("bin/tool", "#!/bin/sh\n", mode: 0o750)
        t.file("bin/setuid", "#!/bin/sh\necho s\n", mode: 0o4711)
        t.file("empty", "", mode: 0o600)
        return t.build()
    }

    static func mode(_ path: String) -> UInt32? { lstatPath(path).map { UInt32($0.st_mode) & 0o7777 } }
    static func inode(_ path: String) -> UInt64? { lstatPath(path).map { UInt64($0.st_ino) } }

    func build(_ s: LayerSandbox, link: LinkMode, worldReadable: Bool, name: String, unreadable: ((Int) -> Void)? = nil) throws -> PublishedImage {
        let b = try ImageBuilder(repository: s.repository, linkMode: link, worldReadable: worldReadable)
        try b.apply(LayerInput(source: BytesSource(Self.layer()), name: "L1", expect: LayerExpectations(compression: .none)))
        let published = try b.publish(as: try PublishedName(name))
        unreadable?(b.unreadableByOthers)
        return published
    }

    /// The count the sync summary reports (from the catalog and the on-disk mode rules) agrees with
    /// what `stats` finds walking the tree: secret/ (0700), secret/key below it, bin/tool (0750),
    /// bin/setuid (04711: o+x, no o+r) and empty (0600); none with --world-readable.
    @Test(arguments: [false, true])
    func unreadablePathsAreCountedAsStatsCountsThem(_ worldReadable: Bool) throws {
        let s = try LayerSandbox()
        var counted = -1
        _ = try build(s, link: .hardlink, worldReadable: worldReadable, name: "org/count:1") { counted = $0 }
        #expect(counted == (worldReadable ? 0 : 5))
        #expect(RepositoryStats.compute(s.repository).unreadableByOthers == counted)
    }

    @Test(arguments: [LinkMode.hardlink, .copy])
    func treesAreReadableByAllAndCatalogsKeepTheLayerModes(_ link: LinkMode) throws {
        let s = try LayerSandbox()
        let img = try build(s, link: link, worldReadable: true, name: "org/wr:1")
        let t = img.treePath
        let shared = link == .hardlink
        #expect(Self.mode(t + "/secret") == 0o755)
        #expect(Self.mode(t + "/secret/key") == (shared ? 0o444 : 0o644))
        #expect(Self.mode(t + "/etc/conf") == (shared ? 0o444 : 0o644))
        #expect(Self.mode(t + "/bin/tool") == (shared ? 0o555 : 0o755))
        #expect(Self.mode(t + "/bin/setuid") == (shared ? 0o555 : 0o755), "set-id bits never reach the disk")
        #expect(Self.mode(t + "/empty") == (shared ? 0o444 : 0o644))
        if shared {
            // Same body, and the same on-disk mode once widened: one inode.
            #expect(Self.inode(t + "/secret/key") == Self.inode(t + "/etc/conf"))
        }
        let catalog = try s.repository.readCatalog(image: img.imageID)
        let modes = Dictionary(uniqueKeysWithValues: catalog.map { (String(decoding: $0.path, as: UTF8.self), $0.mode & 0o7777) })
        #expect(modes["secret"] == 0o700 && modes["secret/key"] == 0o600 && modes["bin/tool"] == 0o750 && modes["bin/setuid"] == 0o4711)
        #expect(try s.repository.readImageRecord(img.imageID)?.worldReadable == true)

        var v = Verifier(repository: s.repository)
        #expect(try v.run().problems.isEmpty)
        #expect(Verifier(repository: s.repository).checkImage(img.imageID).isEmpty)

        // A directory narrowed on disk is a difference; --repair rebuilds the widened tree.
        #expect(chmod(t + "/secret", 0o700) == 0)
        let found = try v.run().problems
        #expect(found.count == 1 && found.first?.path == "secret", "\(found)")
        #expect(found.first?.message.contains("expected 755") == true, "\(found)")
        v.repair = true
        #expect(try v.run().remaining.isEmpty)
        #expect(Self.mode(t + "/secret") == 0o755)
        v.repair = false
        #expect(try v.run().problems.isEmpty)
        s.checkSentinel()
    }

    @Test func withoutTheOptionModesAreExactAndARepositoryIsOneOrTheOther() throws {
        let s = try LayerSandbox()
        let img = try build(s, link: .hardlink, worldReadable: false, name: "org/plain:1")
        #expect(Self.mode(img.treePath + "/secret") == 0o700)
        #expect(Self.mode(img.treePath + "/secret/key") == 0o400)
        #expect(Self.inode(img.treePath + "/secret/key") != Self.inode(img.treePath + "/etc/conf"))
        #expect(try s.repository.readImageRecord(img.imageID)?.worldReadable == nil)

        let refused = #expect(throws: ImgsyncError.self) {
            _ = try ImageBuilder(repository: s.repository, linkMode: .hardlink, worldReadable: true)
        }
        #expect(refused?.code == .config)
        #expect(refused?.message.contains("without --world-readable") == true, "\(String(describing: refused))")
        // The same setting as the existing trees is accepted.
        _ = try ImageBuilder(repository: s.repository, linkMode: .hardlink, worldReadable: false)
    }
}
