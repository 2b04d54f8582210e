import Foundation
import Testing
@testable import ImgsyncCore
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Values the filesystem cannot hold (issue 8, item 3): mtimes are clamped to the filesystem's range
/// in the catalog and on disk alike (docs/on-disk-format.md, "Times"), so the tree verifies; an
/// xattr name with a NUL byte is refused.
extension LayerHardeningTests {
    /// The range of the filesystem the sandbox lives on, as the applier sees it.
    static func timeRange(_ s: LayerSandbox) -> FileTimeRange {
        let fd = open(s.root, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        return FileTimeRange.probe(dirfd: fd)
    }

    @Test func extremeMtimesAreClampedInTheCatalogAndOnDisk() throws {
        let s = try LayerSandbox()
        let layer = TarBuilder.tar { b in
            b.dir("low/", mtime: Int64.min)
            b.file("high", "h", mtime: Int64.max)
            b.symlink("link", target: "high", mtime: Int64.max)
            b.pax([.mtime("9223372036854775807.999999999")])
            b.file("pax-high", "p")
            b.file("normal", "n", mtime: TarBuilder.t0, mtimeNanoseconds: 7)
        }
        let range = Self.timeRange(s)
        let r = try s.apply([layer])
        r.expectTree([.dir("low"), .file("high", "h"), .link("link", "high"), .file("pax-high", "p"), .file("normal", "n")])
        #expect(r.entry("low")?.mtime == range.min && r.entry("low")?.mtimeNsec == 0)
        #expect(r.entry("high")?.mtime == range.max && r.entry("pax-high")?.mtime == range.max)
        #expect(r.entry("pax-high")?.mtimeNsec == 0)
        #expect(r.entry("normal")?.mtime == TarBuilder.t0 && r.entry("normal")?.mtimeNsec == 7)
        let link = try #require(r.lstatDisk(Array("link".utf8)))
        #expect(Int64(link.st_mtim.tv_sec) == r.entry("link")?.mtime)
        for name in ["low", "high", "link", "pax-high"] {
            #expect(r.warnings.contains { $0.hasPrefix(name) && $0.contains(": mtime ") && $0.contains("recorded and applied as") }, "no warning for \(name): \(r.warnings)")
        }
        #expect(!r.warnings.contains { $0.hasPrefix("normal") })

        // The whole repository verifies: catalog and disk agree.
        try s.repository.lock()
        let report = try Verifier(repository: s.repository).run()
        #expect(report.problems.isEmpty, "\(report.problems)")
    }

    @Test func clampRuleMatchesTheKernel() {
        let ext4 = FileTimeRange(min: -(1 << 31), max: 15_032_385_535)
        #expect(ext4.clamp(sec: .max, nsec: 999_999_999) == (15_032_385_535, 0))
        #expect(ext4.clamp(sec: 15_032_385_535, nsec: 9) == (15_032_385_535, 0))
        #expect(ext4.clamp(sec: 15_032_385_534, nsec: 9) == (15_032_385_534, 9))
        #expect(ext4.clamp(sec: .min, nsec: 5) == (-(1 << 31), 0))
        #expect(ext4.clamp(sec: -(1 << 31) + 1, nsec: 3) == (-(1 << 31) + 1, 3))
        #expect(FileTimeRange.unlimited.clamp(sec: .max, nsec: 1) == (.max, 0))
        #expect(FileTimeRange.format(-3, 5) == "-3.000000005")
    }

    @Test(arguments: [TarXattr.schily([UInt8]("user.a".utf8) + [0] + [UInt8]("b".utf8), "v"),
                      TarXattr.libarchive([UInt8]("user.a".utf8) + [0] + [UInt8]("b".utf8), "v"),
                      TarXattr.schily([UInt8](), "v")])
    func xattrNameWithANulByteIsRefused(_ xattr: TarXattr) throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.file("f", "f", xattrs: [xattr])
        s.expectFailure(.tarFormat, [t.build()])
    }
}
