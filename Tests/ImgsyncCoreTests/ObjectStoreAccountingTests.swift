import Foundation
import Testing
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncTestSupport
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Issue 2 "bodies once": what `.objects` occupies is the distinct bodies plus the reported variant
/// inodes, computed here from the files the layers contain, never from the store's own counters.
///
/// The accounting uses apparent sizes of distinct inodes (`du --apparent-size` with hard links
/// counted once), not `st_blocks * 512`: block allocation depends on the filesystem (a 9-byte body
/// takes a 4 KiB block on ext4 and XFS, a page on tmpfs), so only apparent sizes can equal a sum of
/// body sizes exactly. Allocated blocks are checked to be at least that much.
@Suite struct ObjectStoreAccountingTests {
    struct File {
        var path: String
        var body: String
        var mode: Int64 = 0o644
        var mtime: Int64 = TarBuilder.t0
    }

    static let a = String(repeating: "a", count: 4000)
    static let b = String(repeating: "b", count: 10_000)
    static let c = String(repeating: "c", count: 777)
    static let d = String(repeating: "d", count: 5000)
    static let e = String(repeating: "e", count: 123)

    /// L1 is shared by both images; L2 and L3 are their own.
    static let l1 = [
        File(path: "bin/a", body: a, mode: 0o755),
        File(path: "bin/b", body: b),
        File(path: "lib/x", body: a),                             // same body, other mode: a variant
        File(path: "lib/y", body: b, mtime: TarBuilder.t0 + 1),   // same body, other mtime: a variant
        File(path: "secret/k", body: c, mode: 0o600),
        File(path: "secret/readme", body: "readme"),                 // o+r, but inside a 0700 directory
        File(path: "empty", body: ""),
    ]
    static let l2 = [File(path: "app/main", body: d, mode: 0o755), File(path: "bin/b2", body: b)]
    static let l3 = [File(path: "app/main", body: e, mode: 0o755), File(path: "lib/z", body: a)]

    static func tar(_ files: [File], secretDir: Bool = false) -> [UInt8] {
        var t = TarBuilder()
        if secretDir { t.dir("secret/", mode: 0o700) }
        for f in files { t.file(f.path, f.body, mode: f.mode, mtime: f.mtime) }
        return t.build()
    }

    /// Files of each tree as the test defines them (later layers replace earlier paths).
    static func tree(_ layers: [[File]]) -> [String: File] {
        var out: [String: File] = [:]
        for l in layers { for f in l { out[f.path] = f } }
        return out
    }

    /// Distinct inodes under `.objects` (not its tmp dir): apparent bytes, allocated bytes, count.
    static func objectInodes(_ root: String) -> (bytes: Int64, allocated: Int64, count: Int) {
        var seen = Set<UInt64>()
        var bytes: Int64 = 0, allocated: Int64 = 0
        let base = root + "/.objects"
        for shard in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] where shard != "tmp" {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: base + "/" + shard)) ?? [] {
                guard let st = lstatPath(base + "/" + shard + "/" + name), seen.insert(UInt64(st.st_ino)).inserted else { continue }
                bytes += Int64(st.st_size)
                allocated += Int64(st.st_blocks) * 512
            }
        }
        return (bytes, allocated, seen.count)
    }

    @Test func objectStoreHoldsDistinctBodiesPlusReportedVariants() throws {
        let s = try LayerSandbox()
        let layers1 = [Self.tar(Self.l1, secretDir: true), Self.tar(Self.l2)]
        let layers2 = [Self.tar(Self.l1, secretDir: true), Self.tar(Self.l3)]
        try s.apply(layers1, link: .hardlink, name: "org/one:1")
        let two = try s.apply(layers2, link: .hardlink, name: "org/two:1")
        #expect(two.published.reused == false)

        // The same image applied again stores nothing new and reuses the tree.
        let again = try ImageBuilder(repository: s.repository, linkMode: .hardlink)
        for (i, l) in layers1.enumerated() {
            try again.apply(LayerInput(source: BytesSource(l), name: "L\(i)", expect: LayerExpectations(compression: .none)))
        }
        let republished = try again.publish(as: try PublishedName("org/one-again:1"))
        #expect(again.objectsAdded == 0)
        #expect(again.bytesAdded == 0)
        #expect(republished.reused)

        // Expected, from the definitions: every body once, plus one inode per extra
        // (permission bits without write/set-id, mtime) combination a non-empty body appears with.
        let allFiles = Self.l1 + Self.l2 + Self.l3
        let bodies = Set(allFiles.map(\.body))
        let distinctBytes = bodies.reduce(Int64(0)) { $0 + Int64($1.utf8.count) }
        var combos: [String: Set<String>] = [:]
        for f in allFiles where !f.body.isEmpty {
            combos[f.body, default: []].insert("\(f.mode & 0o555) \(f.mtime)")
        }
        let variantCount = combos.values.reduce(0) { $0 + $1.count - 1 }
        let variantBytes = combos.reduce(Int64(0)) { $0 + Int64($1.value.count - 1) * Int64($1.key.utf8.count) }
        #expect(variantCount == 2, "the fixture is meant to have two variants")

        let measured = Self.objectInodes(s.root)
        #expect(measured.bytes == distinctBytes + variantBytes)
        #expect(measured.count == bodies.count + variantCount)
        #expect(measured.allocated >= measured.bytes)

        // `imgsync stats` reports the same figures.
        let stats = RepositoryStats.compute(s.repository)
        #expect(stats.objects == bodies.count)
        #expect(stats.objectBytes == distinctBytes)
        #expect(stats.variants == variantCount)
        #expect(stats.variantBytes == variantBytes)
        #expect(stats.storedBytes == measured.bytes)
        #expect(stats.allocatedBytes == measured.allocated)
        #expect(stats.trees == 2)
        #expect(stats.names == 3)
        let published = [Self.tree([Self.l1, Self.l2]), Self.tree([Self.l1, Self.l3])]
        let publishedBytes = published.reduce(Int64(0)) { sum, t in sum + t.values.reduce(Int64(0)) { $0 + Int64($1.body.utf8.count) } }
        #expect(stats.catalogBytes == publishedBytes)
        #expect(abs(stats.dedupRatio - Double(publishedBytes) / Double(distinctBytes + variantBytes)) < 1e-9)
        // Per tree: `secret/` (0700), and `secret/k` and `secret/readme` below it.
        #expect(stats.unreadableByOthers == 6)
    }

    /// Many files with one body and one set of metadata, written by concurrent writer threads:
    /// one object inode, every tree file linked to it, no variant for a lost race.
    @Test func equalFilesWrittenConcurrentlyShareOneInode() throws {
        let s = try LayerSandbox()
        let files = (0..<400).map { File(path: "d\($0 % 7)/f\($0)", body: "one body for all\n") }
        let img = try s.apply([Self.tar(files)], link: .hardlink, name: "org/same:1")
        let measured = Self.objectInodes(s.root)
        #expect(measured.count == 1, "one object inode, found \(measured.count)")
        let inodes = Set(files.map { lstatPath(img.tree + "/" + $0.path)?.st_ino })
        #expect(inodes.count == 1 && inodes.first! != nil)
        #expect(lstatPath(img.tree + "/d0/f0").map { Int($0.st_nlink) } == 401, "400 tree files and the object")
        let stats = RepositoryStats.compute(s.repository)
        #expect(stats.variants == 0)
    }

    // MARK: reflink on XFS

    /// Runs a tool; returns its status and combined output.
    static func run(_ tool: String, _ args: [String]) -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool.hasPrefix("/") ? tool : "/usr/bin/env")
        p.arguments = tool.hasPrefix("/") ? args : [tool] + args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.runSerialized() } catch { return (-1, "cannot run \(tool): \(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The first extent of a file per `filefrag -v`: physical start block and flags.
    static func firstExtent(_ path: String) -> (physical: UInt64, flags: String)? {
        let r = run("filefrag", ["-v", path])
        guard r.status == 0 else { return nil }
        for line in r.output.split(separator: "\n") {
            let parts = line.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count >= 5, parts[0] == "0" else { continue }
            guard let start = parts[2].components(separatedBy: "..").first.flatMap({ UInt64($0.trimmingCharacters(in: .whitespaces)) }) else { continue }
            return (start, parts[parts.count - 1])
        }
        return nil
    }

    /// Tree files on a reflink filesystem are their own inodes (exact mode less set-id bits, exact
    /// mtime) whose data blocks are the object's. Needs root, xfsprogs and a loop device; when they
    /// are missing the test fails, unless IMGSYNC_SKIP_XFS_TESTS=1 disables it explicitly.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["IMGSYNC_SKIP_XFS_TESTS"] == nil,
                   "IMGSYNC_SKIP_XFS_TESTS is set: the XFS reflink test is disabled"))
    func reflinkTreeFilesShareExtentsWithObjectsOnXFS() throws {
        try Self.withXFS { mnt in
            try reflinkTreeFilesShareExtents(mnt)
        }
    }

    /// Runs `body` with the mount point of a fresh 300 MB XFS filesystem with reflinks (a loop
    /// mount). Records an issue (the test fails) when it cannot be made.
    static func withXFS(_ body: (String) throws -> Void) throws {
        let base = NSTemporaryDirectory() + "imgsync-xfs-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let image = base + "/fs.img", mnt = base + "/mnt"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        defer { Repository.removeTree(base) }
        for (tool, args) in [("truncate", ["-s", "300M", image]), ("mkfs.xfs", ["-q", "-m", "reflink=1", image])] {
            let r = Self.run(tool, args)
            guard r.status == 0 else {
                Issue.record("cannot create the XFS test filesystem: \(tool) \(args.joined(separator: " ")) exited \(r.status): \(r.output) -- install xfsprogs (scripts/install-deps) or set IMGSYNC_SKIP_XFS_TESTS=1")
                return
            }
        }
        let mounted = Self.run("mount", ["-o", "loop", image, mnt])
        guard mounted.status == 0 else {
            Issue.record("cannot loop-mount the XFS test filesystem (mount exited \(mounted.status): \(mounted.output)); this test needs root and a loop device -- set IMGSYNC_SKIP_XFS_TESTS=1 to skip it explicitly")
            return
        }
        defer { _ = Self.run("umount", [mnt]) }
        try body(mnt)
    }

    func reflinkTreeFilesShareExtents(_ mnt: String) throws {
        let repository = try Repository(root: mnt + "/root")
        #expect(repository.resolve(.auto) == .reflink)
        let body = String(repeating: "0123456789abcdef", count: 4096)          // 64 KiB
        let other = String(repeating: "fedcba9876543210", count: 8192)         // 128 KiB
        let files: [(String, String, Int64, Int64, Int)] = [
            ("plain", body, 0o644, 1_600_000_000, 0),
            ("exec", body, 0o755, 1_600_000_001, 123_456_789),
            ("setuid", body, 0o4755, 1_600_000_002, 5),
            ("sticky-writable", other, 0o1666, 1_500_000_000, 999_999_999),
            ("private", other, 0o600, 1_400_000_000, 1),
        ]
        var t = TarBuilder()
        for f in files { t.file(f.0, f.1, mode: f.2, mtime: f.3, mtimeNanoseconds: f.4) }
        let builder = try ImageBuilder(repository: repository, linkMode: .auto)
        #expect(builder.linkMode == .reflink)
        try builder.apply(LayerInput(source: BytesSource(t.build()), name: "L1", expect: LayerExpectations(compression: .none)))
        let published = try builder.publish(as: try PublishedName("org/xfs:1"))
        sync()

        var inodes = Set<UInt64>()
        for (name, content, mode, sec, nsec) in files {
            let path = published.treePath + "/" + name
            let object = Probe.objectPath(repository.root, content)
            guard let st = lstatPath(path), let ost = lstatPath(object) else {
                Issue.record("\(name) or its object is missing")
                continue
            }
            #expect(st.st_ino != ost.st_ino, "\(name) must be its own inode")
            #expect(inodes.insert(UInt64(st.st_ino)).inserted, "\(name) shares an inode with another tree file")
            #expect(UInt32(st.st_mode) & 0o7777 == UInt32(mode) & 0o1777, "\(name): mode \(String(st.st_mode & 0o7777, radix: 8))")
            #expect(Int64(st.st_mtim.tv_sec) == sec && Int(st.st_mtim.tv_nsec) == nsec, "\(name): mtime \(st.st_mtim)")
            #expect(ost.st_nlink == 1 && st.st_nlink == 1)
            #expect(Probe.contents(path) == content)
            guard let te = Self.firstExtent(path), let oe = Self.firstExtent(object) else {
                Issue.record("filefrag -v gave no extent for \(name) or its object")
                continue
            }
            #expect(te.physical == oe.physical, "\(name) does not share its first extent with the object")
            #expect(te.flags.contains("shared") && oe.flags.contains("shared"), "\(name): flags \(te.flags) / \(oe.flags)")
        }
        // Two distinct bodies stored once each.
        let stats = RepositoryStats.compute(repository)
        #expect(stats.objects == 2)
        #expect(stats.objectBytes == Int64(body.utf8.count + other.utf8.count))
        #expect(stats.variants == 0)
        #expect(try Verifier(repository: repository).run().problems.isEmpty)
    }

    /// Issue 10 item 2: builds running at once in one process (`sync --jobs N`) store objects
    /// through temporary names; those must never collide, whatever the link mode.
    static func concurrentBuilds(_ repository: Repository, link: LinkMode) throws {
        let builders = 4
        var built: [[UInt8]] = []
        for b in 0..<builders {
            var t = TarBuilder()
            t.dir("d/")
            for i in 0..<250 { t.file("d/own-\(i)", "builder \(b) body \(i)\n") }
            for i in 0..<50 { t.file("d/shared-\(i)", "shared body \(i)\n") }
            built.append(t.build())
        }
        let errors = Mutex<[String]>([])
        // Each thread makes its own builder; the repository's path helpers are read-only and its
        // object stores are per builder, as in `SyncEngine` (which shares it between build tasks).
        nonisolated(unsafe) let repository = repository
        let layers = built
        DispatchQueue.concurrentPerform(iterations: builders) { b in
            do {
                let builder = try ImageBuilder(repository: repository, linkMode: link)
                try builder.apply(LayerInput(source: BytesSource(layers[b]), name: "L\(b)", expect: LayerExpectations(compression: .none)))
                _ = try builder.publish(as: try PublishedName("org/concurrent-\(b):1"))
            } catch {
                errors.withLock { $0.append("builder \(b) (\(link)): \(error)") }
            }
        }
        #expect(errors.withLock { $0 } == [])
        #expect(repository.publishedNames().count == builders)
        #expect(try Verifier(repository: repository).run().problems.isEmpty)
        let stats = RepositoryStats.compute(repository)
        #expect(stats.objects == builders * 250 + 50, "every body stored once")
    }

    @Test(arguments: [LinkMode.copy, .hardlink])
    func concurrentBuildsNeverCollide(link: LinkMode) throws {
        for _ in 0..<3 {
            let s = try LayerSandbox()
            try Self.concurrentBuilds(s.repository, link: link)
        }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["IMGSYNC_SKIP_XFS_TESTS"] == nil,
                   "IMGSYNC_SKIP_XFS_TESTS is set: the XFS reflink test is disabled"))
    func concurrentReflinkBuildsNeverCollide() throws {
        try Self.withXFS { mnt in
            for i in 0..<3 {
                let repository = try Repository(root: mnt + "/root\(i)")
                #expect(repository.resolve(.auto) == .reflink)
                try Self.concurrentBuilds(repository, link: .reflink)
            }
        }
    }
}
