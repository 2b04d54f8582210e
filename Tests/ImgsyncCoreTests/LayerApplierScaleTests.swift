import Foundation
import Testing
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncTestSupport

/// docs/conformance.md U112 (device number range), U126 (sparse files), U127 (sparse map bomb), U140 (many
/// tiny entries; scaled), U142 (many opaque markers and whiteouts; scaled, correctness only — the
/// linearity half of U142 is a benchmark question, not a timed unit test).
@Suite struct LayerApplierScaleTests {
    /// Directory fds are cached (`LayerApplier.defaultMaxOpenDirs`); a layer whose files take
    /// more directories in turn than the cache holds makes it evict (waiting for the writer
    /// threads, which may hold the fds). With a cache of 4, layers that visit 30 directories in
    /// turn, nested ones, hardlinks across them, whiteouts and a removed directory give the same
    /// tree and catalog as with the default cache, and a tree loaded from their chain catalog does too.
    @Test func aDirectoryFdCacheSmallerThanTheLayerGivesTheSameTree() throws {
        var l1 = TarBuilder()
        for d in 0..<30 { l1.dir("d\(d)/"); l1.dir("d\(d)/sub/") }
        for i in 0..<600 {
            let d = i % 30
            l1.file(i % 3 == 0 ? "d\(d)/sub/f\(i)" : "d\(d)/f\(i)", "body \(i % 97)\n", mode: i % 5 == 0 ? 0o755 : 0o644)
            if i % 7 == 0 && i >= 30 { l1.hardlink("d\((d + 13) % 30)/h\(i)", target: i % 3 == 0 ? "d\(d)/sub/f\(i)" : "d\(d)/f\(i)") }
        }
        var l2 = TarBuilder()
        for i in stride(from: 1, to: 600, by: 3) { l2.file("d\(i % 30)/f\(i)", "changed \(i)\n") }
        for d in stride(from: 0, to: 30, by: 4) { l2.whiteout("d\(d)/sub") }
        l2.whiteout("d29")
        let layers = [l1.build(), l2.build()]

        let small = try LayerSandbox(), usual = try LayerSandbox()
        let a = try small.apply(layers, openDirectoryLimit: 4)
        let b = try usual.apply(layers)
        #expect(a.catalog.count > 600)
        #expect(a.catalog == b.catalog)
        #expect(TreeAudit.differences(tree: a.tree, catalog: b.catalog, shared: true).isEmpty)
        #expect(TreeAudit.differences(tree: b.tree, catalog: b.catalog, shared: true).isEmpty)
        small.checkSentinel()

        // From the chain catalog (links only), through the small cache.
        let diffIDs = layers.map { SHA256Hasher.hash($0) }
        let chain = try #require(ChainID.chain(diffIDs).last)
        let catalog = try #require(try small.repository.readCatalog(chain: chain))
        let loaded = try ImageBuilder(repository: small.repository, linkMode: .hardlink, objectLinkLimit: nil, openDirectoryLimit: 4)
        try loaded.start(from: catalog, diffIDs: diffIDs)
        let other = try loaded.publish(as: try PublishedName("test/loaded:1"), imageID: SHA256Hasher.hash(Array("other".utf8)))
        #expect(!other.reused)
        #expect(TreeAudit.differences(tree: other.treePath, catalog: b.catalog, shared: true).isEmpty)
    }

    @Test func u112DeviceNumbersOutOfRange() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder(); l1.blockDevice("x", major: 1 << 32, minor: 0)
        s.expectFailure(.tarFormat, [l1.build()])
        var l2 = TarBuilder(); l2.charDevice("y", major: 1, minor: -1)
        s.expectFailure(.tarFormat, [l2.build()])
        // In range: recorded, not created.
        var ok = TarBuilder(); ok.charDevice("null", major: 1, minor: 3)
        let r = try s.apply([ok.build()])
        #expect(r.entry("null")?.type == .charDevice)
        #expect(r.entry("null")?.devMajor == 1 && r.entry("null")?.devMinor == 3)
        var st = stat()
        #expect(lstat(r.tree + "/null", &st) != 0, "device nodes are not created")
    }

    @Test(arguments: [SparseFormat.gnu1_0, SparseFormat.oldGNU])
    func u126SparseFileHasItsLogicalContent(format: SparseFormat) throws {
        let s = try LayerSandbox()
        let size: Int64 = 64 << 20
        let head = [UInt8](repeating: 0xA1, count: 4096), tail = [UInt8](repeating: 0xB2, count: 4096)
        var l1 = TarBuilder()
        l1.sparseFile("sp", realSize: size, regions: [(0, head), (size - 4096, tail)], format: format)
        let r = try s.apply([l1.build()])
        // The expected bytes, built independently: data, zeros, data.
        var logical = head + [UInt8](repeating: 0, count: Int(size) - 8192) + tail
        let expected = SHA256Hasher.hash(logical)
        logical = []
        let e = try #require(r.entry("sp"))
        #expect(e.size == size)
        #expect(e.sha256 == expected, "the object is named by the logical bytes")
        let disk = try #require(FileManager.default.contents(atPath: r.tree + "/sp"))
        #expect(disk.count == Int(size))
        #expect(SHA256Hasher.hash(Array(disk)) == expected)
        s.checkSentinel()
    }

    @Test func u127SparseMapBombIsALimit() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder()
        l1.sparseFile("bomb", regionCount: 200_000)  // a map of ~2.4 MiB, over the 1 MiB limit
        s.expectFailure(.limit, [l1.build()])
    }

    @Test func u140ManyTinyEntriesAndTheEntryLimit() throws {
        let s = try LayerSandbox()
        var l1 = TarBuilder()
        for d in 0..<100 { l1.dir("d\(d)/") }
        for i in 0..<100_000 { l1.file("d\(i % 100)/f\(i)") }
        let r = try s.apply([l1.build()])
        #expect(r.catalog.filter { $0.type == .regular }.count == 100_000)
        #expect(try FileManager.default.contentsOfDirectory(atPath: r.tree + "/d7").count == 1_000)
        // Variant: max-entries = 1000 with 1001 entries.
        var limits = LayerLimits()
        limits.maxEntries = 1000
        var l2 = TarBuilder()
        for i in 0..<1001 { l2.file("e\(i)") }
        s.expectFailure(.limit, [l2.build()], limits: limits, name: "test/limit:1")
        var l3 = TarBuilder()
        for i in 0..<1000 { l3.file("e\(i)") }
        #expect(throws: Never.self) { try s.apply([l3.build()], name: "test/limit:2", limits: limits) }
    }

    @Test func u142ManyOpaqueMarkersAndWhiteouts() throws {
        let s = try LayerSandbox()
        let n = 10_000
        var l1 = TarBuilder()
        for k in 0..<n {
            l1.dir("d\(k)/")
            for f in 0..<3 { l1.file("d\(k)/f\(f)", "x") }
        }
        var l2 = TarBuilder()
        for k in 0..<n { l2.dir("d\(k)/"); l2.opaque("d\(k)/") }
        let r = try s.apply([l1.build(), l2.build()])
        #expect(r.catalog.filter { $0.type == .regular }.isEmpty, "every opaque dir hides its lower files")
        #expect(r.catalog.filter { $0.type == .directory }.count == n + 1)

        // Variant: one dir with many files, then a whiteout for all but the last ten.
        let m = 20_000
        var w1 = TarBuilder(); w1.dir("d/")
        for i in 0..<m { w1.file("d/f\(i)", "y") }
        var w2 = TarBuilder()
        for i in 0..<(m - 10) { w2.whiteout("d/.wh.f\(i)") }
        let r2 = try s.apply([w1.build(), w2.build()], name: "test/whiteouts:1")
        let left = try FileManager.default.contentsOfDirectory(atPath: r2.tree + "/d").sorted()
        #expect(left == (m - 10..<m).map { "f\($0)" }.sorted())
        s.checkSentinel()
    }
}
