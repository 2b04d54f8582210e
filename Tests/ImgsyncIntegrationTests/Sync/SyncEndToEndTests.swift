import Foundation
import ImgsyncCore
import ImgsyncRepository
import ImgsyncRegistry
import ImgsyncTestSupport
import Logging
import Testing
@testable import ImgsyncSync

/// `imgsync sync` end to end against a real registry (issue 4, "What done looks like"): multi-layer
/// images with whiteouts, opaque dirs and hard links, a multi-arch index, a zstd layer, a Docker
/// schema-2 image; no blob GET when nothing changed; retags re-point only the name; a new tag sharing
/// base layers downloads only its new layer; de-listed names are removed; failures leave the old tree.
@Suite(.timeLimit(.minutes(5))) struct SyncEndToEndTests {
    /// Layers built in memory and written as tar files for mkoci.py.
    static func writeLayers(_ env: FakeEnvironment) throws -> [String: String] {
        var base = TarBuilder()
        base.dir("etc/"); base.file("etc/os-release", "ID=test\n")
        base.dir("usr/"); base.dir("usr/bin/"); base.file("usr/bin/tool", "#!/bin/sh\necho tool\n", mode: 0o755)
        base.hardlink("usr/bin/tool-alias", target: "usr/bin/tool")
        base.dir("usr/share/"); base.dir("usr/share/doc/"); base.file("usr/share/doc/a", "doc a"); base.file("usr/share/doc/b", "doc b")
        base.dir("opt/"); base.dir("opt/data/"); base.file("opt/data/old1", "old 1"); base.file("opt/data/old2", "old 2")
        base.symlink("bin", target: "usr/bin")
        var upper = TarBuilder()
        upper.whiteout("usr/share/doc/.wh.a")
        upper.opaque("opt/data/"); upper.file("opt/data/new", "new data")
        upper.hardlink("usr/bin/tool-lower-link", target: "usr/bin/tool")
        upper.file("etc/motd", "hello from the upper layer\n")
        var app10 = TarBuilder(); app10.dir("app/"); app10.file("app/version", "1.0\n")
        var app11 = TarBuilder(); app11.dir("app/"); app11.file("app/version", "1.1\n"); app11.file("app/extra", "new in 1.1")
        var arm = TarBuilder(); arm.file("arch", "arm64")
        var amd = TarBuilder(); amd.file("arch", "amd64")
        var paths: [String: String] = [:]
        for (name, builder) in [("base", base), ("upper", upper), ("app10", app10), ("app11", app11), ("arm", arm), ("amd", amd)] {
            let path = env.dir.file("\(name).tar")
            try Data(builder.build()).write(to: URL(fileURLWithPath: path))
            paths[name] = path
        }
        return paths
    }

    static func imagesJSON(_ t: [String: String]) -> String {
        """
        [{"tag":"base","manifests":[{"config":{"Env":["PATH=/usr/bin:/bin","GREETING=hello \\"world\\""],"Cmd":["/bin/sh"]},
           "layers":[{"tar":"\(t["base"]!)","compression":"gzip"},{"tar":"\(t["upper"]!)","compression":"zstd"}]}]},
         {"tag":"app10","manifests":[{"config":{"Env":["APP=1.0"]},
           "layers":[{"tar":"\(t["base"]!)","compression":"gzip"},{"tar":"\(t["upper"]!)","compression":"zstd"},{"tar":"\(t["app10"]!)","compression":"gzip"}]}]},
         {"tag":"app11","manifests":[{"config":{"Env":["APP=1.1"]},
           "layers":[{"tar":"\(t["base"]!)","compression":"gzip"},{"tar":"\(t["upper"]!)","compression":"zstd"},{"tar":"\(t["app11"]!)","compression":"gzip"}]}]},
         {"tag":"multi","index":true,"manifests":[
           {"platform":{"os":"linux","architecture":"arm64","variant":"v8"},"layers":[{"tar":"\(t["arm"]!)","compression":"gzip"}]},
           {"platform":{"os":"linux","architecture":"amd64"},"layers":[{"tar":"\(t["amd"]!)","compression":"gzip"}]}]},
         {"tag":"docker","manifests":[{"config":{"Env":["D=1"]},"layers":[{"tar":"\(t["app10"]!)","compression":"gzip"}]}]}]
        """
    }

    /// The repository's scripts/ folder.
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("scripts").path

    func target(_ reg: LocalRegistry, _ repoTag: String, as name: String? = nil, line: Int = 1) throws -> SyncTarget {
        let ref = try ImageReference(parsing: "\(reg.name)/\(repoTag)")
        return SyncTarget(name: try PublishedName(name ?? repoTag), reference: ref, platform: .linuxAMD64, origin: "test:\(line)")
    }

    func sync(_ env: FakeEnvironment, root: String, _ targets: [SyncTarget], configure: (inout SyncOptions) -> Void = { _ in },
              client change: (inout RegistryClientConfiguration) -> Void = { _ in }) async throws -> SyncReport {
        var options = SyncOptions(root: root)
        // Wait for the lock rather than fail: between fork and exec, a child that another test of
        // this process spawns holds a copy of every descriptor, the lock of a run that has just
        // ended included (close-on-exec closes it only at exec).
        options.wait = true
        options.jobs = 2
        options.addSandboxMetadata()
        // Images are built by build workers, as `imgsync sync` builds them (this process is the
        // test runner, not imgsync).
        options.workerExecutable = imgsyncExecutable
        configure(&options)
        var logger = Logger(label: "sync-test")
        logger.logLevel = .warning
        return try await env.withClient(change) { client in
            let engine = try SyncEngine(options: options, client: client, logger: logger)
            return try await engine.run(targets: targets, listIssues: [], listEntries: targets.count, listName: "test")
        }
    }

    /// A registry holding org/app:1 (the app 1.0 image) and org/app:2 (app 1.1).
    static func appRegistry(_ env: FakeEnvironment) async throws -> LocalRegistry {
        let reg = try await env.registry()
        let (layout, _) = try await env.layout(imagesJSON(try writeLayers(env)))
        try await env.push(layout, tag: "app10", to: "\(reg.name)/org/app:1")
        try await env.push(layout, tag: "app11", to: "\(reg.name)/org/app:2")
        return reg
    }

    func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    func inode(_ path: String) -> UInt64? {
        var st = stat()
        return lstat(path, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    /// Every path under `root` (names, trees, objects, state excluded) with inode and mtime: a
    /// fingerprint that changes when any file is written, replaced or touched.
    func fingerprint(_ root: String) -> [String: String] {
        var out: [String: String] = [:]
        let e = FileManager.default.enumerator(atPath: root)
        while let rel = e?.nextObject() as? String {
            if rel.hasPrefix(".imgsync") { continue }
            var st = stat()
            guard lstat(root + "/" + rel, &st) == 0 else { continue }
            out[rel] = "\(st.st_ino) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec)"
        }
        return out
    }

    /// A run releases the repository lock when it ends, even while its engine (and so its
    /// repository) is still referenced: `imgsync serve` starts the next run in the same process.
    @Test func aFinishedRunReleasesTheLock() async throws {
        try await withFakeEnvironment { env in
            let root = env.dir.file("root")
            try await env.withClient { client in
                var logger = Logger(label: "sync-test")
                logger.logLevel = .error
                let options = SyncOptions(root: root)
                let first = try SyncEngine(options: options, client: client, logger: logger)
                _ = try await first.run(targets: [], listIssues: [], listEntries: 0, listName: "test")
                let second = try SyncEngine(options: options, client: client, logger: logger)
                // A few tries: a child another test spawns at that moment holds a copy of every
                // descriptor until it execs (see `sync`); a lock the first engine kept stays for good.
                var failure: (any Error)?
                for _ in 0..<20 {
                    do {
                        _ = try await second.run(targets: [], listIssues: [], listEntries: 0, listName: "test")
                        failure = nil
                        break
                    } catch {
                        failure = error
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
                #expect(failure == nil, "\(String(describing: failure))")
                withExtendedLifetime(first) {}
            }
        }
    }

    @Test func syncsUpdatesRetagsAndRemoves() async throws {
        try await withFakeEnvironment { env in
            let reg = try await env.registry(accessLog: true)
            let layers = try Self.writeLayers(env)
            let (layout, images) = try await env.layout(Self.imagesJSON(layers))
            try await env.push(layout, tag: "base", to: "\(reg.name)/org/base:1")
            try await env.push(layout, tag: "app10", to: "\(reg.name)/org/app:1.0")
            try await env.push(layout, tag: "app10", to: "\(reg.name)/org/app:stable")
            try await env.push(layout, tag: "multi", to: "\(reg.name)/org/multi:1", all: true)
            try await env.push(layout, tag: "docker", to: "\(reg.name)/org/docker:1", format: "v2s2")
            let root = env.dir.file("root")
            let first = [try target(reg, "org/base:1"), try target(reg, "org/app:1.0"), try target(reg, "org/app:stable"),
                         try target(reg, "org/multi:1"), try target(reg, "org/docker:1")]

            // 1. Empty root: everything is added.
            let r1 = try await sync(env, root: root, first)
            #expect(r1.exitCode == 0, "\(r1.text())")
            #expect(r1.count(.added) == 5, "\(r1.text())")
            let base = root + "/org/base:1"
            #expect(read(base + "/etc/os-release") == "ID=test\n")
            #expect(read(base + "/etc/motd") == "hello from the upper layer\n")
            #expect(read(base + "/usr/share/doc/a") == nil, "whited out in the upper layer")
            #expect(read(base + "/usr/share/doc/b") == "doc b")
            let data = try FileManager.default.contentsOfDirectory(atPath: base + "/opt/data").sorted()
            #expect(data == ["new"], "opaque dir keeps only the upper layer's entries")
            #expect(inode(base + "/usr/bin/tool") == inode(base + "/usr/bin/tool-lower-link"), "hard link to a lower-layer file")
            #expect(inode(base + "/usr/bin/tool") == inode(base + "/usr/bin/tool-alias"))
            #expect(read(root + "/org/multi:1/arch") == "amd64", "linux/amd64 chosen from the index")
            #expect(read(root + "/org/app:1.0/app/version") == "1.0\n")
            #expect(read(root + "/org/docker:1/app/version") == "1.0\n")
            // The Apptainer files: 99-base.sh, and the image's ENV exported literally.
            #expect(FileManager.default.fileExists(atPath: base + "/.singularity.d/env/99-base.sh"))
            #expect(FileManager.default.fileExists(atPath: base + "/.singularity.d/runscript"))
            let exported = try await ChildProcess.run(["env", "-i", "/bin/sh", "-c",
                ". \(base)/.singularity.d/env/10-docker2singularity.sh; printf '%s|%s' \"$GREETING\" \"$PATH\""])
            #expect(exported == "hello \"world\"|/usr/bin:/bin")
            // Every tree matches umoci's unpacking of the same image, file by file (tree-compare:
            // content, type, link target, mode modulo the on-disk normalisation, mtime, link groups),
            // the Apptainer files being the only extras.
            // Debian's umoci 0.4.7 cannot read zstd layers: it unpacks the same tars gzip-compressed.
            // It also cannot pick a platform from an index: the amd64 image is given on its own.
            var gzipSpec = Self.imagesJSON(layers).replacingOccurrences(of: "\"zstd\"", with: "\"gzip\"")
            gzipSpec = String(gzipSpec.dropLast()) + #",{"tag":"amd","manifests":[{"layers":[{"tar":"\#(layers["amd"]!)","compression":"gzip"}]}]}]"#
            let (gzipLayout, _) = try await env.layout(gzipSpec)
            for (tag, name) in [("base", "org/base:1"), ("app10", "org/app:1.0"), ("amd", "org/multi:1"), ("docker", "org/docker:1")] {
                let bundle = env.dir.file("umoci-\(tag)")
                try await ChildProcess.run(["umoci", "unpack", "--rootless", "--image", "\(gzipLayout):\(tag)", bundle])
                let compare = try await ChildProcess.run(["env", "IMGSYNC=\(SyncCrashTests.imgsync)", "python3", Self.scripts + "/tree-compare",
                                                          "--imgsync-root", root, "--name", name, "--umoci", bundle + "/rootfs", "--apptainer"])
                #expect(compare.contains(" 0 differences"), "\(name): \(compare)")
            }
            // The two tags of one image share one tree (image id = config digest).
            let appID = try #require(images["app10"]?.manifests.first?.config)
            let repo = try Repository(root: root)
            #expect(repo.imageID(of: try PublishedName("org/app:1.0"))?.description == appID)
            #expect(repo.imageID(of: try PublishedName("org/app:stable"))?.description == appID)
            // app:1.0 reused base:1's two-layer chain or downloaded it only once: base and upper
            // blobs are fetched once in total (the two builds share the chain or the in-flight lock).
            let gets1 = reg.blobGets()
            #expect(!gets1.isEmpty)

            // 2. Nothing changed: no blob GET, no file touched.
            let before = fingerprint(root)
            let r2 = try await sync(env, root: root, first)
            #expect(r2.count(.unchanged) == 5, "\(r2.text())")
            #expect(reg.blobGets().count == gets1.count, "a sync with nothing changed fetched blobs")
            #expect(fingerprint(root) == before, "a sync with nothing changed modified the root")

            // 3. Retag: app:stable now names 1.1 (which shares base and upper); add app:1.1 too.
            try await env.push(layout, tag: "app11", to: "\(reg.name)/org/app:1.1")
            try await env.push(layout, tag: "app11", to: "\(reg.name)/org/app:stable")
            let objectsBefore = try objects(root)
            let second = first + [try target(reg, "org/app:1.1")]
            let r3 = try await sync(env, root: root, second)
            #expect(r3.exitCode == 0, "\(r3.text())")
            // Configs are blobs too; count layer GETs only.
            let layerDigests = Set(images.values.flatMap { $0.manifests.flatMap { $0.layers.map(\.digest) } })
            let newGets = reg.blobGets().dropFirst(gets1.count).filter { get in layerDigests.contains { get.contains($0) } }
            let app11Layer = try #require(images["app11"]?.manifests.first?.layers.last?.digest)
            #expect(newGets.count == 1 && newGets.allSatisfy { $0.contains(app11Layer) },
                    "only the new top layer is downloaded: \(newGets)")
            #expect(read(root + "/org/app:stable/app/version") == "1.1\n")
            #expect(read(root + "/org/app:1.0/app/version") == "1.0\n")
            let app11ID = try #require(images["app11"]?.manifests.first?.config)
            #expect(repo.imageID(of: try PublishedName("org/app:stable"))?.description == app11ID)
            // Only new bodies were added: the layer's "1.1\n" and "new in 1.1", plus the new image's
            // own Apptainer files (its labels and ENV differ); nothing of the shared base layers.
            let added = try objects(root).subtracting(objectsBefore)
            let app11Catalog = try repo.readCatalog(image: try Digest(parsing: app11ID))
            let sandboxBodies = Set(app11Catalog.filter { $0.path.starts(with: Array(".singularity.d/".utf8)) }.compactMap { $0.sha256?.hex })
            let layerBodies: Set<String> = [SHA256Hasher.hash(Array("1.1\n".utf8)).hex, SHA256Hasher.hash(Array("new in 1.1".utf8)).hex]
            #expect(layerBodies.isSubset(of: added), "the new layer's bodies were stored")
            #expect(added.subtracting(layerBodies).isSubset(of: sandboxBodies), "unexpected new objects: \(added.subtracting(layerBodies).subtracting(sandboxBodies))")
            let unchangedNames = r3.images.filter { $0.outcome == .unchanged }.map(\.name).sorted()
            #expect(unchangedNames == ["org/app:1.0", "org/base:1", "org/docker:1", "org/multi:1"])

            // 4. A failing image keeps its old tree; the others still sync; exit 1.
            try await env.push(layout, tag: "app10", to: "\(reg.name)/org/app:1.1")  // 1.1 moves back to 1.0's image…
            let gone = try target(reg, "org/missing:1")
            let r4 = try await sync(env, root: root, second + [gone])
            #expect(r4.exitCode == 1)
            let failed = r4.images.filter { $0.outcome == .failed }
            #expect(failed.map(\.name) == ["org/missing:1"])
            #expect(failed.first?.error?.contains("org/missing") == true, "\(failed)")
            #expect(read(root + "/org/app:1.1/app/version") == "1.0\n", "…and the name follows it")

            // 5. De-listed names are removed (their trees stay until GC).
            let r5 = try await sync(env, root: root, first.filter { $0.name.description != "org/docker:1" })
            #expect(r5.removed.sorted() == ["org/app:1.1", "org/docker:1"], "\(r5.text())")
            #expect(!FileManager.default.fileExists(atPath: root + "/org/docker:1"))
            #expect(read(root + "/org/base:1/etc/os-release") == "ID=test\n")

            // 6. GC with a tiny grace: the first run notes docker:1's tree as unreferenced, a run after
            //    the grace period deletes it; published trees stay and verify accepts the repository.
            let dockerID = try #require(images["docker"]?.manifests.first?.config)
            let dockerTree = repo.imagePath(try Digest(parsing: dockerID))
            #expect(FileManager.default.fileExists(atPath: dockerTree))
            let gcOptions: (inout SyncOptions) -> Void = { options in
                options.afterSync = { repository in
                    var gc = GarbageCollector(repository: repository)
                    gc.grace = 0.3
                    return ["treesDeleted": Int64(try gc.run().treesDeleted.count)]
                }
            }
            let listed = first.filter { $0.name.description != "org/docker:1" }
            let g1 = try await sync(env, root: root, listed, configure: gcOptions)
            #expect(g1.gc?["treesDeleted"] == 0)
            #expect(FileManager.default.fileExists(atPath: dockerTree), "still within the grace period")
            try await Task.sleep(for: .milliseconds(400))
            let g2 = try await sync(env, root: root, listed, configure: gcOptions)
            #expect(g2.gc?["treesDeleted"] == 1, "\(String(describing: g2.gc))")
            #expect(!FileManager.default.fileExists(atPath: dockerTree))
            let verify = try Verifier(repository: try Repository(root: root)).run()
            #expect(verify.problems.isEmpty, "\(verify.problems)")
            #expect(read(root + "/org/app:1.0/app/version") == "1.0\n")
        }
    }

    @Test func aCorruptLayerFailsAndLeavesThePublishedTree() async throws {
        try await withFakeEnvironment { env in
            let reg = try await env.registry()
            let (layout, images) = try await env.layout(Self.imagesJSON(try Self.writeLayers(env)))
            try await env.push(layout, tag: "app10", to: "\(reg.name)/org/app:1")
            let root = env.dir.file("root")
            let t = try target(reg, "org/app:1")
            let r1 = try await sync(env, root: root, [t])
            #expect(r1.exitCode == 0, "\(r1.text())")
            // Move the tag to 1.1 and corrupt 1.1's new layer in the registry's storage.
            try await env.push(layout, tag: "app11", to: "\(reg.name)/org/app:1")
            let layer = try #require(images["app11"]?.manifests.first?.layers.last?.digest)
            let hex = String(layer.dropFirst("sha256:".count))
            let blob = reg.storage + "/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data"
            var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: blob)))
            bytes[bytes.count / 2] ^= 0xFF
            try Data(bytes).write(to: URL(fileURLWithPath: blob))
            let r2 = try await sync(env, root: root, [t])
            #expect(r2.exitCode == 3, "the only listed image failed: nothing was published")
            let error = try #require(r2.images.first?.error)
            #expect(error.contains("digest") || error.contains(hex.prefix(12)), "\(error)")
            #expect(read(root + "/org/app:1/app/version") == "1.0\n", "the old tree stays published")
            let staging = try FileManager.default.contentsOfDirectory(atPath: root + "/.imgsync/staging")
            #expect(staging.isEmpty, "no staging leftovers: \(staging)")
        }
    }

    /// `--world-readable` is a property of the repository: a later run without the flag follows it;
    /// asking for it on trees built without it stops before building anything (exit 2 from the
    /// command), so no tree is reused with the wrong modes.
    @Test func aRepositoryIsWorldReadableOrNot() async throws {
        try await withFakeEnvironment { env in
            let reg = try await Self.appRegistry(env)
            let root = env.dir.file("root")
            let r1 = try await sync(env, root: root, [try target(reg, "org/app:1")]) { $0.worldReadable = true }
            #expect(r1.exitCode == 0, "\(r1.text())")
            let image = try #require(try Repository(root: root).imageID(of: PublishedName("org/app:1")))
            #expect(try Repository(root: root).readImageRecord(image)?.worldReadable == true)
            // Without the flag (a timer unit, `add --sync`): the new tree is world-readable too.
            let r2 = try await sync(env, root: root, [try target(reg, "org/app:1"), try target(reg, "org/app:2")])
            #expect(r2.exitCode == 0 && r2.count(.added) == 1, "\(r2.text())")
            let image2 = try #require(try Repository(root: root).imageID(of: PublishedName("org/app:2")))
            #expect(try Repository(root: root).readImageRecord(image2)?.worldReadable == true)

            let plain = env.dir.file("plain")
            _ = try await sync(env, root: plain, [try target(reg, "org/app:1")])
            let refused = await #expect(throws: ImgsyncError.self) {
                _ = try await sync(env, root: plain, [try target(reg, "org/app:1"), try target(reg, "org/app:2")]) { $0.worldReadable = true }
            }
            #expect(refused?.message.contains("without --world-readable") == true, "\(String(describing: refused))")
            #expect(!FileManager.default.fileExists(atPath: plain + "/org/app:2"))
        }
    }

    @Test func theShrinkGuardKeepsNamesUnlessForced() async throws {
        try await withFakeEnvironment { env in
            let reg = try await env.registry()
            let (layout, _) = try await env.layout(Self.imagesJSON(try Self.writeLayers(env)))
            for tag in ["a", "b", "c"] { try await env.push(layout, tag: "docker", to: "\(reg.name)/org/\(tag):1") }
            let root = env.dir.file("root")
            let all = try ["a", "b", "c"].map { try target(reg, "org/\($0):1") }
            _ = try await sync(env, root: root, all)
            let r = try await sync(env, root: root, [all[0]])
            #expect(r.removed.isEmpty)
            #expect(r.removalHeld?.contains("shrank") == true, "\(r.text())")
            #expect(r.keptNames == ["org/b:1", "org/c:1"])
            #expect(FileManager.default.fileExists(atPath: root + "/org/b:1"))
            // Issue 10 item 1: the guard is a state. The next timer runs still hold the removals.
            for _ in 0..<2 {
                let again = try await sync(env, root: root, [all[0]])
                #expect(again.removed.isEmpty, "\(again.text())")
                #expect(again.removalHeld?.contains("shrank from 3 to 1") == true, "\(again.text())")
                #expect(again.removalHeld?.contains("held since") == true, "\(again.text())")
                #expect(FileManager.default.fileExists(atPath: root + "/org/b:1") && FileManager.default.fileExists(atPath: root + "/org/c:1"))
            }
            let forced = try await sync(env, root: root, [all[0]]) { $0.force = true }
            #expect(forced.removed.sorted() == ["org/b:1", "org/c:1"])
            let state = try Repository(root: root).readState()
            #expect(state.listEntries == 1 && state.removalsHeldSince == nil)
        }
    }

    @Test func theCommandReadsTheListReportsBadLinesAndWritesJSON() async throws {
        let imgsync = SyncCrashTests.imgsync
        try #require(FileManager.default.isExecutableFile(atPath: imgsync), "imgsync is not built at \(imgsync)")
        try await withFakeEnvironment { env in
            let reg = try await env.registry()
            let (layout, _) = try await env.layout(Self.imagesJSON(try Self.writeLayers(env)))
            try await env.push(layout, tag: "multi", to: "\(reg.name)/org/multi:1", all: true)
            try await env.push(layout, tag: "docker", to: "\(reg.name)/org/docker:1", format: "v2s2")
            try await env.push(layout, tag: "docker", to: "\(reg.name)/org/docker:2", format: "v2s2")
            try env.dir.write("images.txt", """
                # test list
                \(reg.name)/org/multi:1 --platform linux/arm64/v8
                \(reg.name)/org/docker:*
                \(reg.name)/Org/Bad:1

                """)
            let root = env.dir.file("root"), json = env.dir.file("report.json")
            let p = Process()
            p.executableURL = URL(fileURLWithPath: imgsync)
            p.arguments = ["sync", "--images", env.dir.file("images.txt"), "--root", root, "--ca-file", env.ca.caCert,
                           "--json", json, "--log-level", "error"]
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = pipe
            try p.runSerialized()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 1, "a bad line makes the run exit 1: \(output)")
            #expect(output.contains("images.txt:4"), "the bad line is named: \(output)")
            #expect(read(root + "/org/multi:1/arch") == "arm64", "the line's --platform wins")
            #expect(read(root + "/org/docker:1/app/version") == "1.0\n", "glob expanded")
            #expect(read(root + "/org/docker:2/app/version") == "1.0\n", "glob expanded")
            let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
            let images = report?["images"] as? [[String: Any]]
            #expect(images?.count == 3)
            #expect((report?["listIssues"] as? [String])?.count == 1)

            // An unreadable list: exit 2, nothing removed.
            let q = Process()
            q.executableURL = URL(fileURLWithPath: imgsync)
            q.arguments = ["sync", "--images", env.dir.file("missing.txt"), "--root", root, "--ca-file", env.ca.caCert]
            q.standardOutput = FileHandle.nullDevice
            q.standardError = FileHandle.nullDevice
            try q.runSerialized()
            q.waitUntilExit()
            #expect(q.terminationStatus == 2)
            #expect(read(root + "/org/docker:1/app/version") == "1.0\n")
        }
    }

    /// Canonical object names (hex digests) in the store.
    func objects(_ root: String) throws -> Set<String> {
        var out = Set<String>()
        for shard in try FileManager.default.contentsOfDirectory(atPath: root + "/.objects") where shard.count == 2 {
            for name in try FileManager.default.contentsOfDirectory(atPath: root + "/.objects/" + shard) where !name.contains(".") {
                out.insert(shard + name)
            }
        }
        return out
    }
}
