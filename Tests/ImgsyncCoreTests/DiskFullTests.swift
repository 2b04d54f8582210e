import Foundation
import Testing
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A filesystem that fills up mid-layer: the error names the layer, the tar entry and the cause;
/// the name published before stays published with its tree intact; nothing of the failed build is
/// visible. Small files are written by the applier's writer thread, so this is also the path by
/// which that thread's failures reach the caller.
@Suite(.serialized) struct DiskFullTests {
    /// A 2 MiB tmpfs mounted for the test (root only), unmounted afterwards.
    final class SmallFilesystem {
        let path: String
        init(size: String = "2m") throws {
            path = NSTemporaryDirectory() + "imgsync-full-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let status = Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "imgsync-test", path])
            if status != 0 {
                rmdir(path)
                throw ImgsyncError(.io, "mount -t tmpfs failed with status \(status)")
            }
        }
        deinit {
            _ = Self.run("/bin/umount", [path])
            rmdir(path)
        }
        static func run(_ tool: String, _ args: [String]) -> Int32 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tool)
            p.arguments = args
            do { try p.runSerialized() } catch { return -1 }
            p.waitUntilExit()
            return p.terminationStatus
        }
    }

    static func body(_ i: Int, _ size: Int) -> String {
        let unit = "file \(i) "
        return String(String(repeating: unit, count: size / unit.count + 1).prefix(size))
    }

    @Test(.enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
    func diskFullFailsTheLayerNamingTheEntryAndKeepsThePublishedTree() throws {
        let fs = try SmallFilesystem()
        let repository = try Repository(root: fs.path + "/root")

        var first = TarBuilder()
        first.file("etc/os-release", "ID=test\n")
        first.file("bin/tool", Self.body(0, 20_000), mode: 0o755)
        let one = try ImageBuilder(repository: repository, linkMode: .hardlink)
        try one.apply(LayerInput(source: BytesSource(first.build()), name: "base", expect: LayerExpectations(compression: .none)))
        let published = try one.publish(as: try PublishedName("org/app:1"))
        let tree = fs.path + "/root/org/app:1"
        #expect(FileManager.default.contents(atPath: tree + "/etc/os-release") == Data("ID=test\n".utf8))

        // 64 distinct 64 KiB bodies: 4 MiB, twice what the filesystem holds.
        var big = TarBuilder()
        for i in 1...64 { big.file("data/f\(i)", Self.body(i, 64 * 1024)) }
        let two = try ImageBuilder(repository: repository, linkMode: .hardlink)
        var caught: ImgsyncError?
        do {
            try two.apply(LayerInput(source: BytesSource(big.build()), name: "sha256:feedface", expect: LayerExpectations(compression: .none)))
            _ = try two.publish(as: try PublishedName("org/app:1"))
        } catch let e as ImgsyncError {
            caught = e
        }
        let e = try #require(caught, "a layer twice the filesystem's size applied")
        #expect(e.errno == ENOSPC, "\(e)")
        #expect(e.layer == "sha256:feedface", "\(e)")
        #expect(e.entry?.hasPrefix("data/f") == true, "\(e)")
        #expect(e.description.contains("data/f"), "\(e)")

        // The earlier tree is still the published one, complete.
        #expect(repository.imageID(of: try PublishedName("org/app:1")) == published.imageID)
        #expect(FileManager.default.contents(atPath: tree + "/etc/os-release") == Data("ID=test\n".utf8))
        #expect(FileManager.default.contents(atPath: tree + "/bin/tool")?.count == 20_000)
        #expect(repository.publishedNames().map { $0.name } == ["org/app:1"])

        // Once the failed builder is gone, its staging tree is too, and so are the bodies it
        // stored: only the published image's objects stay (issue 8: they used to fill the disk
        // until the next GC, so the next apply failed too).
        _ = consume two
        let staging = (try? FileManager.default.contentsOfDirectory(atPath: fs.path + "/root/.imgsync/staging")) ?? []
        #expect(staging.isEmpty, "\(staging)")
        let objects = Set(repository.objectFiles().objects.map(\.digest))
        #expect(objects == [Probe.digest("ID=test\n"), Probe.digest(Self.body(0, 20_000))], "\(objects.count) objects")

        var next = TarBuilder()
        next.file("data/one", Self.body(99, 1 << 20))
        let three = try ImageBuilder(repository: repository, linkMode: .hardlink)
        try three.apply(LayerInput(source: BytesSource(next.build()), name: "next", expect: LayerExpectations(compression: .none)))
        _ = try three.publish(as: try PublishedName("org/app:2"))
        #expect(FileManager.default.contents(atPath: fs.path + "/root/org/app:2/data/one")?.count == 1 << 20)
    }

    /// A catalog that does not fit says which file and which image, not "write fd 6".
    @Test(.enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
    func diskFullWhileWritingACatalogNamesTheFileAndTheImage() throws {
        let fs = try SmallFilesystem(size: "256k")
        let repository = try Repository(root: fs.path + "/root")
        // Empty files take no data blocks on tmpfs; their catalog takes far more than 256 KiB, even
        // compressed: random names (200 hex digits, 100 bytes of entropy each) of 6000 files.
        var t = TarBuilder()
        var rng = SplitMix64(seed: 11)
        for _ in 0..<6000 {
            t.file("dir/" + (0..<25).map { _ in String(rng.next() & 0xffff_ffff, radix: 16).padding(toLength: 8, withPad: "0", startingAt: 0) }.joined(), "")
        }
        let builder = try ImageBuilder(repository: repository, linkMode: .hardlink)
        builder.imageName = "org/app:1"
        var caught: ImgsyncError?
        do {
            try builder.apply(LayerInput(source: BytesSource(t.build()), name: "sha256:cafe", expect: LayerExpectations(compression: .none)))
        } catch let e as ImgsyncError {
            caught = e
        }
        let e = try #require(caught, "the catalog fitted")
        #expect(e.errno == ENOSPC, "\(e)")
        #expect(e.message.contains("the chain catalog after layer sha256:cafe of org/app:1"), "\(e)")
        #expect(e.message.contains(fs.path + "/root/.imgsync/catalogs/chains/"), "\(e)")
        #expect(e.message.hasSuffix("No space left on device"), "\(e)")
        #expect(!e.message.contains("fd "), "\(e)")
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: fs.path + "/root/.imgsync/catalogs/chains")) ?? []
        #expect(leftovers.isEmpty, "no temporary catalog stays: \(leftovers)")
    }
}
