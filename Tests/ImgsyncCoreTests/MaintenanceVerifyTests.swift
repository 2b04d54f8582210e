import Foundation
import Testing
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `verify [--repair]`: objects re-hashed, trees compared with their catalogs, rebuilt atomically.
@Suite struct MaintenanceVerifyTests {
    /// A layer with every kind of path verify compares: nested dirs with odd modes, files with
    /// nanosecond mtimes, a setuid file, a symlink, a hard-link pair, an empty file, a FIFO.
    func layer() -> [UInt8] {
        var t = TarBuilder()
        t.dir("etc/", mode: 0o755, mtime: 1_600_000_000)
        t.file("etc/passwd", "root:x:0:0\n", mode: 0o644, mtimeNanoseconds: 123_456_789)
        t.file("etc/shadow", "secret\n", mode: 0o600)
        t.dir("bin/", mode: 0o2755, mtime: 1_600_000_001)
        t.file("bin/su", "setuid-binary", mode: 0o4755)
        t.file("bin/tool", "tool-body", mode: 0o755, mtime: 1_500_000_000)
        t.hardlink("bin/tool-alias", target: "bin/tool")
        t.symlink("bin/sh", target: "/bin/busybox")
        t.file("empty", "")
        t.fifo("run.fifo")
        t.dir("tmp/", mode: 0o1777)
        return t.build()
    }

    func verify(_ s: LayerSandbox, repair: Bool = false) throws -> VerifyReport {
        var v = Verifier(repository: s.repository)
        v.repair = repair
        return try v.run()
    }

    @Test(arguments: [LinkMode.hardlink, .copy])
    func intactRepositoryHasNoProblems(mode: LinkMode) throws {
        let s = try LayerSandbox()
        try s.apply([layer()], link: mode, name: "org/img:1")
        let r = try verify(s)
        #expect(r.problems.isEmpty, "\(r.problems)")
        #expect(r.treesChecked == 1)
        // root, etc, etc/passwd, etc/shadow, bin, bin/su, bin/tool, bin/tool-alias, bin/sh, empty, tmp
        #expect(r.pathsChecked == 11)
        // 4 distinct non-empty bodies plus the empty object.
        #expect(r.objectsChecked == 5)
    }

    @Test func corruptObjectIsDetectedAndItsTreeNeedsResync() throws {
        let s = try LayerSandbox()
        let img = try s.apply([layer()], link: .hardlink, name: "org/img:1")
        let object = Probe.objectPath(s.root, "tool-body")
        try Probe.corrupt(object, at: 2)
        let r = try verify(s)
        let corrupt = r.problems.filter { $0.kind == .corruptObject }
        #expect(corrupt.map(\.path) == [ObjectStore.relativePath(of: Probe.digest("tool-body"))])
        // In hardlink mode the tree files are that inode: both names differ from the catalog.
        let paths = Set(r.problems.filter { $0.kind == .treeDifference }.compactMap(\.path))
        #expect(paths == ["bin/tool", "bin/tool-alias"], "\(r.problems)")
        #expect(r.problems.allSatisfy { $0.kind != .treeDifference || $0.image?.contains("org/img:1") == true })

        let repaired = try verify(s, repair: true)
        #expect(!Probe.exists(object), "the corrupt object is deleted")
        let resync = repaired.remaining.filter { $0.kind == .needsResync }
        #expect(resync.count == 1)
        #expect(resync.first?.message.contains("re-sync") == true)
        #expect(resync.first?.message.contains(Probe.digest("tool-body").description) == true, "\(resync)")
        #expect(!repaired.remaining.isEmpty)
        // The damaged tree stays published (no partial rebuild replaced it).
        #expect(Probe.exists(img.published.treePath + "/bin/tool"))
    }

    @Test(arguments: [LinkMode.hardlink, .copy])
    func deletedTreeFileIsDetectedAndRepaired(mode: LinkMode) throws {
        let s = try LayerSandbox()
        let img = try s.apply([layer()], link: mode, name: "org/img:1")
        let tree = img.published.treePath
        chmod(tree + "/etc", 0o755)
        #expect(unlink(tree + "/etc/passwd") == 0)
        // Restore the directory's mtime so that the only difference is the missing file.
        var times = [timespec(tv_sec: 1_600_000_000, tv_nsec: 0), timespec(tv_sec: 1_600_000_000, tv_nsec: 0)]
        utimensat(AT_FDCWD, tree + "/etc", &times, 0)
        let r = try verify(s)
        #expect(r.problems.count == 1, "\(r.problems)")
        #expect(r.problems.first?.path == "etc/passwd")
        #expect(r.problems.first?.message.contains("missing") == true)

        let oldRoot = lstatPath(tree)
        let repaired = try verify(s, repair: true)
        #expect(repaired.remaining.isEmpty, "\(repaired.remaining)")
        #expect(repaired.treesRebuilt == [img.published.imageID.hex])
        #expect(Probe.contents(tree + "/etc/passwd") == "root:x:0:0\n")
        #expect(lstatPath(tree)?.st_ino != oldRoot?.st_ino, "a new tree was swapped in")
        #expect(try verify(s).problems.isEmpty)
        let staging = try FileManager.default.contentsOfDirectory(atPath: s.root + "/.imgsync/staging")
        #expect(staging.isEmpty, "the swapped-out tree is removed: \(staging)")
        // The name still resolves to the image.
        #expect(s.repository.imageID(of: try PublishedName("org/img:1")) == img.published.imageID)
    }

    @Test func metadataAndExtraPathsAreDetectedAndRepaired() throws {
        let s = try LayerSandbox()
        let img = try s.apply([layer()], link: .copy, name: "org/img:1")
        let tree = img.published.treePath
        chmod(tree + "/bin", 0o755)                       // loses setgid
        try Data("x".utf8).write(to: URL(fileURLWithPath: tree + "/tmp/extra"))
        var times = [timespec(tv_sec: 5, tv_nsec: 0), timespec(tv_sec: 5, tv_nsec: 0)]
        utimensat(AT_FDCWD, tree + "/bin/tool", &times, AT_SYMLINK_NOFOLLOW)
        unlink(tree + "/bin/sh"); symlink("/elsewhere", tree + "/bin/sh")
        let r = try verify(s)
        let byPath = Dictionary(grouping: r.problems, by: { $0.path ?? "" })
        #expect(byPath["bin"]?.contains { $0.message.contains("mode 755 on disk, expected 2755") } == true, "\(r.problems)")
        #expect(byPath["tmp/extra"]?.contains { $0.message.contains("does not list") } == true)
        #expect(byPath["bin/tool"]?.contains { $0.message.contains("mtime 5.000000000") } == true)
        #expect(byPath["bin/sh"]?.contains { $0.message.contains("/elsewhere") } == true)
        // tool and tool-alias are one inode: changing one changes both.
        #expect(byPath["bin/tool-alias"] != nil)
        let repaired = try verify(s, repair: true)
        #expect(repaired.remaining.isEmpty, "\(repaired.remaining)")
        #expect(!Probe.exists(tree + "/tmp/extra"))
        #expect(lstatPath(tree + "/bin").map { $0.st_mode & 0o7777 } == 0o2755)
        #expect(try verify(s).problems.isEmpty)
    }

    @Test func modifiedBodyOfAnOwnInodeIsDetectedByHashing() throws {
        let s = try LayerSandbox()
        let img = try s.apply([layer()], link: .copy, name: "org/img:1")
        let file = img.published.treePath + "/etc/shadow"
        let st = lstatPath(file)!
        try Probe.corrupt(file)
        var times = [st.st_atim, st.st_mtim]
        utimensat(AT_FDCWD, file, &times, 0)
        let r = try verify(s)
        #expect(r.problems.map(\.path) == ["etc/shadow"], "\(r.problems)")
        #expect(r.problems.first?.message.contains("content hashes to") == true)
        #expect(try verify(s, repair: true).remaining.isEmpty)
        #expect(Probe.contents(file) == "secret\n")
    }

    @Test func missingObjectMakesRepairAskForResync() throws {
        let s = try LayerSandbox()
        let img = try s.apply([layer()], link: .hardlink, name: "org/img:1")
        #expect(unlink(Probe.objectPath(s.root, "secret\n")) == 0)
        let tree = img.published.treePath
        chmod(tree + "/etc", 0o755)
        #expect(unlink(tree + "/etc/shadow") == 0)
        let r = try verify(s, repair: true)
        #expect(r.problems.contains { $0.kind == .treeDifference && $0.path == "etc/shadow" && !$0.repaired })
        let resync = r.remaining.filter { $0.kind == .needsResync }
        #expect(resync.count == 1, "\(r.problems)")
        #expect(resync.first?.message.contains("re-sync") == true)
        #expect(resync.first?.image?.contains("org/img:1") == true)
        #expect(r.treesRebuilt.isEmpty)
        // The published tree is left as it was (not replaced by a partial one).
        #expect(Probe.contents(tree + "/etc/passwd") == "root:x:0:0\n")
    }

    @Test func nameWithoutTreeIsRebuilt() throws {
        let s = try LayerSandbox()
        let img = try s.apply([layer()], link: .hardlink, name: "org/img:1")
        Repository.removeTree(img.published.treePath)
        let r = try verify(s)
        #expect(r.problems.map(\.kind) == [.missingTree])
        let repaired = try verify(s, repair: true)
        #expect(repaired.remaining.isEmpty, "\(repaired.remaining)")
        #expect(Probe.contents(s.root + "/org/img:1/bin/tool-alias") == "tool-body")
        #expect(try verify(s).problems.isEmpty)
    }

    @Test func corruptVariantMetadataIsDetected() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.file("a", "same-body", mode: 0o644)
        t.file("b", "same-body", mode: 0o755)      // other permission bits: a variant inode
        try s.apply([t.build()], link: .hardlink, name: "org/v:1")
        let objects = s.repository.objectFiles().objects.filter { $0.digest == Probe.digest("same-body") }
        #expect(objects.count == 2)
        let variants = objects.filter(\.isVariant)
        #expect(variants.count == 1)
        let variant = try #require(variants.first)
        // Which file's inode became the variant depends on which writer thread stored the body
        // first: a's (0444 on disk) or b's (0555). Change the variant to the other one's mode, so
        // the change is real whichever it is (issue 10 item 6: a chmod to its own mode changed nothing).
        let path = s.root + "/" + variant.relativePath
        let st = try #require(lstatPath(path))
        let mode = st.st_mode & 0o7777
        #expect(mode == 0o444 || mode == 0o555)
        let sharedBy = mode == 0o555 ? "b" : "a"
        #expect(chmod(path, mode == 0o555 ? 0o444 : 0o555) == 0)
        let r = try verify(s)
        #expect(r.problems.contains { $0.kind == .objectMetadata && $0.path == variant.relativePath }, "\(r.problems)")
        // The tree file sharing the inode shows the same change.
        #expect(r.problems.contains { $0.kind == .treeDifference && $0.path == sharedBy }, "\(r.problems)")
        let repaired = try verify(s, repair: true)
        #expect(repaired.remaining.isEmpty, "\(repaired.remaining)")
        #expect(try verify(s).problems.isEmpty)
    }

    @Test func metadataOfASharedObjectInodeIsRestoredInPlace() throws {
        let s = try LayerSandbox()
        let img = try s.apply([layer()], link: .hardlink, name: "org/img:1")
        let file = img.published.treePath + "/etc/passwd"
        chmod(file, 0o400)
        var times = [timespec(tv_sec: 7, tv_nsec: 0), timespec(tv_sec: 7, tv_nsec: 0)]
        utimensat(AT_FDCWD, file, &times, AT_SYMLINK_NOFOLLOW)
        let r = try verify(s)
        #expect(r.problems.count == 2, "mode and mtime of etc/passwd: \(r.problems)")
        #expect(r.problems.allSatisfy { $0.path == "etc/passwd" })
        let repaired = try verify(s, repair: true)
        #expect(repaired.remaining.isEmpty, "\(repaired.remaining)")
        #expect(repaired.treesRebuilt.isEmpty, "fixed in place, no rebuild")
        let st = lstatPath(file)
        #expect(st.map { $0.st_mode & 0o7777 } == 0o444)
        #expect(st.map { Int64($0.st_mtim.tv_sec) } == TarBuilder.t0)
        #expect(st.map { $0.st_mtim.tv_nsec } == 123_456_789)
        #expect(lstatPath(Probe.objectPath(s.root, "root:x:0:0\n"))?.st_ino == st?.st_ino)
        #expect(try verify(s).problems.isEmpty)
    }

    @Test func corruptObjectIsRestoredFromAnIntactTreeFile() throws {
        let s = try LayerSandbox()
        try s.apply([layer()], link: .copy, name: "org/img:1")
        let object = Probe.objectPath(s.root, "setuid-binary")
        try Probe.corrupt(object)
        let r = try verify(s)
        #expect(Set(r.problems.map(\.kind)) == [.corruptObject, .missingObject], "\(r.problems)")
        #expect(r.problems.first { $0.kind == .missingObject }?.path == "bin/su")
        let repaired = try verify(s, repair: true)
        #expect(repaired.remaining.isEmpty, "\(repaired.remaining)")
        #expect(Probe.contents(object) == "setuid-binary")
        #expect(lstatPath(object).map { $0.st_mode & 0o7777 } == 0o444)
        #expect(try verify(s).problems.isEmpty)
    }

    @Test func unlinkedObjectNameIsRelinkedToTheTreeInode() throws {
        let s = try LayerSandbox()
        let img = try s.apply([layer()], link: .hardlink, name: "org/img:1")
        let object = Probe.objectPath(s.root, "root:x:0:0\n")
        #expect(unlink(object) == 0)
        let r = try verify(s)
        #expect(r.problems.map(\.kind) == [.missingObject], "\(r.problems)")
        let repaired = try verify(s, repair: true)
        #expect(repaired.remaining.isEmpty, "\(repaired.remaining)")
        #expect(lstatPath(object)?.st_ino == lstatPath(img.published.treePath + "/etc/passwd")?.st_ino)
        #expect(try verify(s).problems.isEmpty)
    }
}


/// The cheap per-image check the sync engine can use before deciding an image is unchanged.
@Suite struct MaintenanceCheckImageTests {
    @Test(arguments: [LinkMode.hardlink, .copy])
    func checkImageFindsStructuralDifferencesWithoutHashingTheStore(mode: LinkMode) throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.file("a", "alpha", mode: 0o644)
        t.file("b", "alpha", mode: 0o755)
        t.file("c", "gamma")
        let img = try s.apply([t.build()], link: mode, name: "org/c:1")
        let v = Verifier(repository: s.repository)
        #expect(v.checkImage(img.published.imageID).isEmpty)
        #expect(v.checkImage(img.published.imageID, hashContents: true).isEmpty)

        let tree = img.published.treePath
        let st = lstatPath(tree + "/c")!
        try Probe.corrupt(tree + "/c")
        var times = [st.st_atim, st.st_mtim]
        utimensat(AT_FDCWD, tree + "/c", &times, 0)
        if mode == .hardlink {
            // The file is the object's inode: found through the object name, trusted without hashing.
            #expect(v.checkImage(img.published.imageID).isEmpty)
        } else {
            #expect(v.checkImage(img.published.imageID).isEmpty, "contents are not read without hashContents")
            #expect(v.checkImage(img.published.imageID, hashContents: true).map(\.path) == ["c"])
        }
        let dirTimes = lstatPath(tree)!
        unlink(tree + "/b")
        var rootTimes = [dirTimes.st_atim, dirTimes.st_mtim]
        utimensat(AT_FDCWD, tree, &rootTimes, 0)
        #expect(v.checkImage(img.published.imageID).map(\.path) == ["b"])
    }
}
