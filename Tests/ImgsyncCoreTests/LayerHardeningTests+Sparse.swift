import Foundation
import Testing
@testable import ImgsyncCore
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Limits count expanded sizes, and holes stay holes on disk (issue 8, item 2).
extension LayerHardeningTests {
    static func limits(layer: Int64, image: Int64 = 1 << 40) -> LayerLimits {
        var limits = LayerLimits()
        limits.maxLayerBytes = layer
        limits.maxImageBytes = image
        return limits
    }

    /// A tar of a few kB whose sparse entry stands for 4 GiB: once written out in full, past the limit.
    @Test(arguments: [SparseFormat.oldGNU, .gnu1_0])
    func sparseRealSizeCountsAgainstTheLayerLimit(_ format: SparseFormat) throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.sparseFile("big", realSize: 4 << 30, regions: [(0, Array("head".utf8))], format: format)
        let layer = t.build()
        #expect(layer.count <= 4096)
        let start = Date()
        s.expectFailure(.limit, [layer], limits: Self.limits(layer: 1_000_000))
        #expect(Date().timeIntervalSince(start) < 10, "the limit is hit before the body is written")
    }

    @Test func sparseHolesCountAgainstTheImageLimit() throws {
        let s = try LayerSandbox()
        func layer(_ name: String) -> [UInt8] {
            var t = TarBuilder()
            t.sparseFile(name, realSize: 600_000, regions: [(0, Array("x".utf8))], format: .oldGNU)
            return t.build()
        }
        // Each layer alone fits both limits; together they expand past the image's.
        let limits = Self.limits(layer: 1_000_000, image: 1_000_000)
        try s.apply([layer("one")], limits: limits)
        s.expectFailure(.limit, [layer("one"), layer("two")], limits: limits, name: "test/two:1")
    }

    @Test func sparseFileWithinTheLimitStillApplies() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.sparseFile("fits", realSize: 900_000, regions: [(0, Array("x".utf8))], format: .gnu1_0)
        let r = try s.apply([t.build()], limits: Self.limits(layer: 1_000_000))
        #expect(r.entry("fits")?.size == 900_000)
    }

    /// 64 MiB with two 4 KiB regions: the tree file keeps its holes (a few blocks, not 64 MiB), reads
    /// back as the logical content, and is recorded with the hash of that content.
    @Test(arguments: [LinkMode.hardlink, .copy])
    func holesStayHolesOnDisk(_ link: LinkMode) throws {
        let s = try LayerSandbox()
        let size: Int64 = 64 << 20
        let head = [UInt8](repeating: 0x11, count: 4096)
        let tail = [UInt8](repeating: 0x22, count: 4096)
        var t = TarBuilder()
        t.sparseFile("sp", realSize: size, regions: [(0, head), (size - 4096, tail)], format: .gnu1_0)
        t.sparseFile("ends-in-a-hole", realSize: 3 << 20, regions: [(1 << 20, head)], format: .oldGNU)
        let r = try s.apply([t.build()], link: link)
        var logical = [UInt8](repeating: 0, count: Int(size))
        logical.replaceSubrange(0..<4096, with: head)
        logical.replaceSubrange(Int(size) - 4096..<Int(size), with: tail)
        #expect(r.entry("sp")?.sha256 == SHA256Hasher.hash(logical))
        #expect(r.readDisk(Array("sp".utf8)) == logical)
        let st = try #require(r.lstatDisk(Array("sp".utf8)))
        #expect(Int64(st.st_size) == size)
        #expect(Int64(st.st_blocks) * 512 < 1 << 20, "\(st.st_blocks) blocks allocated for 8 KiB of data")
        let end = try #require(r.lstatDisk(Array("ends-in-a-hole".utf8)))
        #expect(Int64(end.st_size) == 3 << 20 && Int64(end.st_blocks) * 512 < 1 << 20)
        r.checkDiskMatchesCatalog()
    }
}
