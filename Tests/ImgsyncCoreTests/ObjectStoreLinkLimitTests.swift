import Foundation
import Testing
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Issue 8, item 4: in hardlink mode an object inode that reached the filesystem's hard-link limit
/// (ext4: 65,000) is continued by a new inode instead of failing every later file of that body
/// with `EMLINK`. The limit is the store's test seam here (`objectLinkLimit`), and ext4's own in
/// the last test.
@Suite struct ObjectStoreLinkLimitTests {
    static let body = "the same license text in every image\n"

    /// `count` files of one body with mode 0644 and `count / 2` with mode 0755.
    func layer(_ count: Int) -> [UInt8] {
        var t = TarBuilder()
        for i in 0..<count { t.file("share/f\(i)", Self.body) }
        for i in 0..<(count / 2) { t.file("bin/g\(i)", Self.body, mode: 0o755) }
        return t.build()
    }

    func status(_ path: String) -> stat {
        var st = stat()
        lstat(path, &st)
        return st
    }

    func objectNames(_ root: String) -> [String] {
        let hex = Probe.digest(Self.body).hex
        let shard = root + "/.objects/" + hex.prefix(2)
        return ((try? FileManager.default.contentsOfDirectory(atPath: shard)) ?? []).filter { $0.hasPrefix(String(hex.dropFirst(2))) }.sorted()
    }

    @Test func fullInodesAreContinuedAndEverythingStaysConsistent() throws {
        let s = try LayerSandbox()
        let limit = 4
        let first = try s.apply([layer(10)], name: "org/a:1", objectLinkLimit: limit)
        for i in 0..<10 {
            let st = status(first.tree + "/share/f\(i)")
            #expect(Int(st.st_nlink) <= limit, "share/f\(i) has \(st.st_nlink) links")
            #expect(st.st_mode & 0o7777 == 0o444)
        }
        #expect(Probe.contents(first.tree + "/share/f9") == Self.body)
        // 10 files of 0444: 3 tree links per inode (one link is the object's name) → 4 inodes;
        // 5 files of 0555: 2 inodes.
        let rest = String(Probe.digest(Self.body).hex.dropFirst(2))
        let t0 = TarBuilder.t0
        #expect(objectNames(s.root) == [rest, "\(rest).444.\(t0).0", "\(rest).444.\(t0).0.1", "\(rest).444.\(t0).0.2",
                                        "\(rest).555.\(t0).0", "\(rest).555.\(t0).0.1"].sorted())
        var verify = try Verifier(repository: s.repository).run()
        #expect(verify.problems.isEmpty, "\(verify.problems)")
        let stats = RepositoryStats.compute(s.repository)
        #expect(stats.objects == 1)
        #expect(stats.variants == 5)
        #expect(s.repository.objectFiles().strays.isEmpty)

        // A second image of the same files links to inodes that have room, or starts new ones.
        let second = try s.apply([layer(10)], name: "org/b:1", objectLinkLimit: limit)
        #expect(Probe.contents(second.tree + "/bin/g4") == Self.body)
        for i in 0..<10 { #expect(Int(status(second.tree + "/share/f\(i)").st_nlink) <= limit) }

        // A tree materialised from the chain catalog (links only) does the same.
        // One layer: its ChainID (the image id `apply` gives) is its DiffID.
        let chain = first.published.imageID
        let catalog = try #require(try s.repository.readCatalog(chain: chain))
        let third = try ImageBuilder(repository: s.repository, linkMode: .hardlink, objectLinkLimit: limit)
        try third.start(from: catalog, diffIDs: [chain])
        let other = SHA256Hasher.hash(Array("another image id".utf8))
        let published = try third.publish(as: try PublishedName("org/c:1"), imageID: other)
        #expect(!published.reused)
        verify = try Verifier(repository: s.repository).run()
        #expect(verify.problems.isEmpty, "\(verify.problems)")
        #expect(Verifier(repository: s.repository).checkImage(other, hashContents: true).isEmpty)

        // GC removes every inode of the body with the last tree.
        for n in ["org/a:1", "org/b:1", "org/c:1"] { try s.repository.unpublish(try PublishedName(n)) }
        var gc = GarbageCollector(repository: s.repository)
        gc.grace = 0
        let now = Date()
        gc.now = { now }
        _ = try gc.run()
        gc.now = { now.addingTimeInterval(1) }
        let r = try gc.run()
        #expect(r.failures.isEmpty, "\(r.failures)")
        #expect(objectNames(s.root).isEmpty, "\(objectNames(s.root))")
    }

    /// U152: hardlinks inside a layer to an inode that reached the limit give the new name an inode
    /// of its own (same content and metadata) instead of failing the layer with `EMLINK`; in every
    /// link mode, for a file with a body, an empty file, a file with a user xattr and a symlink.
    @Test(arguments: [LinkMode.hardlink, .copy])
    func treeHardlinksBeyondTheLimitGetTheirOwnInode(mode: LinkMode) throws {
        let s = try LayerSandbox()
        let limit = 4
        var t = TarBuilder()
        t.file("d/body", Self.body)
        t.file("d/empty")
        t.file("d/tagged", "tagged body\n", xattrs: [TarXattr("user.note", "x")])
        t.symlink("d/sym", target: "body")
        let targets = ["body", "empty", "tagged", "sym"]
        for target in targets {
            for i in 0..<10 { t.hardlink("d/\(target)-\(i)", target: "d/\(target)") }
        }
        let r = try s.apply([t.build()], link: mode, objectLinkLimit: limit)
        for target in targets {
            let original = status(r.tree + "/d/" + target)
            var inodes: Set<UInt64> = [UInt64(original.st_ino)]
            for i in 0..<10 {
                let path = r.tree + "/d/\(target)-\(i)"
                let st = status(path)
                #expect(Int(st.st_nlink) <= limit, "\(path) has \(st.st_nlink) links")
                #expect(st.st_mode & 0o170000 == original.st_mode & 0o170000)
                #expect(st.st_mode & 0o7777 == original.st_mode & 0o7777)
                #expect(st.st_mtim.tv_sec == original.st_mtim.tv_sec)
                if target == "sym" {
                    #expect(Probe.readlink(path) == "body")
                } else {
                    #expect(Probe.contents(path) == Probe.contents(r.tree + "/d/" + target))
                }
                inodes.insert(UInt64(st.st_ino))
            }
            // 11 names, at most `limit` links per inode: several inodes.
            #expect(inodes.count >= 3, "\(target): \(inodes.count) inodes")
            let entries = (0..<10).compactMap { r.entry("d/\(target)-\($0)") }
            #expect(entries.count == 10)
            #expect(Set(entries.map(\.linkGroup)).count >= 2, "\(target): the catalog keeps one link group")
        }
        if mode == .copy {
            #expect(Probe.xattr(r.tree + "/d/tagged-9", "user.note") == "x")
        }
        let verify = try Verifier(repository: s.repository).run()
        #expect(verify.problems.isEmpty, "\(verify.problems)")
    }

    /// The names the store writes parse back; a name with a bad continuation number is a stray.
    @Test func overflowNamesParse() throws {
        let hex = Probe.digest(Self.body).hex
        let shard = String(hex.prefix(2)), rest = String(hex.dropFirst(2))
        let parsed = try #require(ObjectFile.parse(shard: shard, name: rest + ".444.1577836800.5.3"))
        #expect(parsed.digest == Probe.digest(Self.body))
        #expect(parsed.continuation == 3)
        #expect(parsed.variant?.mode == 0o444)
        for bad in [".444.1.0.0", ".444.1.0.-1", ".444.1.0.01", ".444.1.0.x", ".444.1.0.1.2"] {
            #expect(ObjectFile.parse(shard: shard, name: rest + bad) == nil, "\(bad)")
        }
    }

    /// ext4's real limit: the object inode is given 65,000 links (what one image with that many
    /// names of the body, or thousands of trees, would do), then the next image with that body
    /// must still publish.
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/sbin/mkfs.ext4"), "needs root and mkfs.ext4"))
    func ext4LinkLimitStartsANewInode() throws {
        let fs = try ScratchFilesystem(ext4: 64)
        let s = try LayerSandbox(on: fs)
        var one = TarBuilder()
        one.file("LICENSE", Self.body)
        let first = try s.apply([one.build()], name: "org/first:1")
        let object = Probe.objectPath(s.root, Self.body)
        let inode = status(object).st_ino
        #expect(status(first.tree + "/LICENSE").st_ino == inode)

        // Fill the inode up to ext4's limit with links outside the repository.
        do {
            let pad = fs.path + "/pad"
            try FileManager.default.createDirectory(atPath: pad, withIntermediateDirectories: true)
            let padFd = try OwnedDescriptor.directory(atPath: pad)
            let objectsFd = try OwnedDescriptor.directory(atPath: (object as NSString).deletingLastPathComponent)
            let objectName = Array((object as NSString).lastPathComponent.utf8)
            var n = 0
            while true {
                let name = Array("l\(n)".utf8)
                let r = objectName.withCString { o in name.withCString { linkat(objectsFd.rawValue, o, padFd.rawValue, $0, 0) } }
                if r != 0 {
                    #expect(errno == EMLINK, "link failed with \(String(cString: strerror(errno)))")
                    break
                }
                n += 1
            }
        }
        #expect(status(object).st_nlink == 65_000)

        var two = TarBuilder()
        two.file("usr/share/LICENSE", Self.body)
        let second = try s.apply([two.build()], name: "org/second:1")
        let st = status(second.tree + "/usr/share/LICENSE")
        #expect(st.st_ino != inode, "a new inode continues the full one")
        #expect(st.st_nlink == 2)
        #expect(Probe.contents(second.tree + "/usr/share/LICENSE") == Self.body)
        #expect(Probe.exists(object + ".444.\(TarBuilder.t0).0"))
        let r = try Verifier(repository: s.repository).run()
        #expect(r.problems.isEmpty, "\(r.problems)")
    }
}
