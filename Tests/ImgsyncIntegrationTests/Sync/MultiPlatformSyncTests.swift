import Foundation
import ImgsyncCore
import Testing

/// Multi-platform list lines end to end (issue 11 part 2), with the `imgsync` executable against a
/// real registry: `--platform a,b` and `all` publish each platform under `<name>@<os>-<arch>[-<variant>]`,
/// the plain name keeps the first (or the default) platform, attestations are left out, a missing
/// platform fails only its line, and a platform that leaves is removed and collected.
@Suite(.timeLimit(.minutes(5))) struct MultiPlatformSyncTests {
    /// Three platforms sharing a base layer, plus an attestation manifest (`unknown/unknown`); and a
    /// later build of the same tag without arm64.
    static let images = """
    [{"tag":"three","index":true,"manifests":[
       {"platform":{"os":"linux","architecture":"amd64"},"layers":[{"files":{"shared":"same base"}},{"files":{"x":"amd64"}}]},
       {"platform":{"os":"linux","architecture":"arm64","variant":"v8"},"layers":[{"files":{"shared":"same base"}},{"files":{"x":"arm64"}}]},
       {"platform":{"os":"unknown","architecture":"unknown"},"annotations":{"vnd.docker.reference.type":"attestation-manifest"},
        "layers":[{"files":{"provenance":"{}"}}]},
       {"platform":{"os":"linux","architecture":"s390x"},"layers":[{"files":{"shared":"same base"}},{"files":{"x":"s390x"}}]}]},
     {"tag":"noarm","index":true,"manifests":[
       {"platform":{"os":"linux","architecture":"s390x"},"layers":[{"files":{"x":"s390x 2"}}]},
       {"platform":{"os":"linux","architecture":"amd64"},"layers":[{"files":{"x":"amd64 2"}}]}]}]
    """

    /// A registry where org/multi:1 and org/multi:2 are the "three" index; and the layout, to push "noarm".
    static func registry(_ env: FakeEnvironment) async throws -> (LocalRegistry, String) {
        let reg = try await env.registry()
        let (layout, _) = try await env.layout(images)
        for tag in ["1", "2"] {
            try await env.push(layout, tag: "three", to: "\(reg.name)/org/multi:\(tag)", all: true)
        }
        return (reg, layout)
    }

    func imgsync(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        do { return (0, try await ChildProcess.run([imgsyncExecutable] + arguments)) } catch let f as CommandFailed { return (f.status, f.output) }
    }

    func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    func inode(_ path: String) -> UInt64? {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    @Test func twoPlatformsArePublishedListedVerifiedAndADroppedOneIsCollected() async throws {
        try await withFakeEnvironment { env in
            let (reg, _) = try await Self.registry(env)
            let root = env.dir.file("root"), list = env.dir.file("images.txt")
            let sync = ["sync", "--images", list, "--root", root, "--ca-file", env.ca.caCert, "--grace", "0s", "--log-level", "error"]
            try env.dir.write("images.txt", "\(reg.name)/org/multi:1 --platform linux/arm64/v8,linux/amd64,linux/s390x\n")

            let first = try await imgsync(sync)
            #expect(first.status == 0, "\(first.output)")
            #expect(read(root + "/org/multi:1/x") == "arm64", "the plain name is the first listed platform")
            #expect(read(root + "/org/multi:1@linux-arm64-v8/x") == "arm64")
            #expect(read(root + "/org/multi:1@linux-amd64/x") == "amd64")
            #expect(read(root + "/org/multi:1@linux-s390x/x") == "s390x")
            #expect(read(root + "/org/multi:1/.singularity.d/labels.json")?.contains("\"arm64\"") == true, "sandbox files per platform")
            #expect(read(root + "/org/multi:1@linux-s390x/.singularity.d/labels.json")?.contains("\"s390x\"") == true)
            let shared = [inode(root + "/org/multi:1@linux-amd64/shared"), inode(root + "/org/multi:1@linux-s390x/shared")]
            #expect(shared[0] != nil && shared[0] == shared[1], "equal bodies are one object")
            let plainTree = try FileManager.default.destinationOfSymbolicLink(atPath: root + "/org/multi:1")
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/org/multi:1@linux-arm64-v8") == plainTree)

            // list --json: the plain name lists each platform with its path, tree and image id.
            let json = try await imgsync(["list", "--root", root, "--json"])
            #expect(json.status == 0, "\(json.output)")
            let status = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
            let names = try #require(status["names"] as? [[String: Any]])
            #expect(names.count == 4)
            let plain = try #require(names.first { $0["name"] as? String == "org/multi:1" })
            let platforms = try #require(plain["platforms"] as? [[String: Any]])
            #expect(platforms.map { $0["platform"] as? String } == ["linux/amd64", "linux/arm64/v8", "linux/s390x"])
            #expect(platforms.map { $0["name"] as? String } == ["org/multi:1@linux-amd64", "org/multi:1@linux-arm64-v8", "org/multi:1@linux-s390x"])
            for p in platforms {
                let path = try #require(p["path"] as? String), tree = try #require(p["tree"] as? String)
                let id = try #require(p["imageID"] as? String)
                #expect(path == root + "/" + (p["name"] as? String ?? ""))
                #expect(tree.hasSuffix(String(id.dropFirst("sha256:".count).dropFirst(2))) && exists(tree), "\(tree) \(id)")
                #expect(URL(fileURLWithPath: path).resolvingSymlinksInPath().path == URL(fileURLWithPath: tree).resolvingSymlinksInPath().path)
            }
            let s390 = try #require(names.first { $0["name"] as? String == "org/multi:1@linux-s390x" })
            #expect(s390["platformOf"] as? String == "org/multi:1")
            let text = try await imgsync(["list", "--root", root])
            #expect(text.output.contains("\n  @linux-s390x "), "\(text.output)")

            let verify = try await imgsync(["verify", "--root", root])
            #expect(verify.status == 0 && verify.output.contains("0 problems found"), "\(verify.output)")
            let again = try await imgsync(sync)
            #expect(again.status == 0 && again.output.contains("4 unchanged"), "\(again.output)")

            // s390x leaves the line: its name goes (the list did not shrink), GC collects its tree.
            let s390Tree = try #require(platforms.last?["tree"] as? String)
            try env.dir.write("images.txt", "\(reg.name)/org/multi:1 --platform linux/arm64/v8,linux/amd64\n")
            let dropped = try await imgsync(sync)
            #expect(dropped.status == 0, "\(dropped.output)")
            #expect(!exists(root + "/org/multi:1@linux-s390x"))
            #expect(read(root + "/org/multi:1@linux-amd64/x") == "amd64" && read(root + "/org/multi:1/x") == "arm64")
            let gc = try await imgsync(["gc", "--root", root, "--grace", "0s"])
            #expect(gc.status == 0, "\(gc.output)")
            #expect(!exists(s390Tree), "the dropped platform's tree is collected")
            #expect(exists(root + "/org/multi:1@linux-amd64/shared"), "a shared body stays while a tree uses it")
        }
    }

    @Test func allLeavesAttestationsOutAndAMissingPlatformFailsOnlyItsLine() async throws {
        try await withFakeEnvironment { env in
            let (reg, layout) = try await Self.registry(env)
            let root = env.dir.file("root"), list = env.dir.file("images.txt")
            let sync = ["sync", "--images", list, "--root", root, "--ca-file", env.ca.caCert, "--log-level", "error"]
            try env.dir.write("images.txt", """
                \(reg.name)/org/multi:1 --platform all
                \(reg.name)/org/multi:2 --platform linux/amd64,linux/arm64/v8

                """)
            let first = try await imgsync(sync)
            #expect(first.status == 0, "\(first.output)")
            #expect(read(root + "/org/multi:1/x") == "amd64", "all: the plain name is linux/amd64 when the index has it")
            for (suffix, x) in [("linux-amd64", "amd64"), ("linux-arm64-v8", "arm64"), ("linux-s390x", "s390x")] {
                #expect(read(root + "/org/multi:1@\(suffix)/x") == x)
            }
            let published = try FileManager.default.contentsOfDirectory(atPath: root + "/org").sorted()
            #expect(published == ["multi:1", "multi:1@linux-amd64", "multi:1@linux-arm64-v8", "multi:1@linux-s390x",
                                  "multi:2", "multi:2@linux-amd64", "multi:2@linux-arm64-v8"], "no attestation tree: \(published)")

            // Both tags lose arm64. Line 2 lists it: that name fails and keeps its tree, the others
            // update. Line 1 takes all: arm64 is no longer there, so its name goes.
            try await env.push(layout, tag: "noarm", to: "\(reg.name)/org/multi:1", all: true)
            try await env.push(layout, tag: "noarm", to: "\(reg.name)/org/multi:2", all: true)
            let second = try await imgsync(sync)
            #expect(second.status == 1, "\(second.output)")
            #expect(second.output.contains("images.txt:2"), "\(second.output)")
            #expect(second.output.contains("org/multi:2 has no image for linux/arm64/v8; available: linux/s390x, linux/amd64"), "\(second.output)")
            #expect(read(root + "/org/multi:2@linux-arm64-v8/x") == "arm64", "what was published stays")
            #expect(read(root + "/org/multi:2/x") == "amd64 2" && read(root + "/org/multi:2@linux-amd64/x") == "amd64 2")
            #expect(!exists(root + "/org/multi:1@linux-arm64-v8"), "a platform that left the index leaves with it")
            #expect(read(root + "/org/multi:1@linux-s390x/x") == "s390x 2" && read(root + "/org/multi:1/x") == "amd64 2")

            // The all line's tag vanishes: its platforms are unknown, not gone; every name stays.
            try FileManager.default.removeItem(atPath: reg.storage + "/docker/registry/v2/repositories/org/multi/_manifests/tags/1")
            let third = try await imgsync(sync)
            #expect(third.status == 1 && third.output.contains("cannot read the platforms of \(reg.name)/org/multi:1"), "\(third.output)")
            #expect(read(root + "/org/multi:1@linux-s390x/x") == "s390x 2" && read(root + "/org/multi:1@linux-amd64/x") == "amd64 2")
            #expect(read(root + "/org/multi:1/x") == "amd64 2")
        }
    }

    /// An `all` line whose tag still points at the same index costs HEADs only: the platforms it
    /// offered are recorded in the state with the index digest. A new index is read again.
    @Test func anUnchangedIndexIsNotFetchedAgain() async throws {
        try await withFakeEnvironment { env in
            let (reg, layout) = try await Self.registry(env)
            let root = env.dir.file("root"), report = env.dir.file("report.json")
            try env.dir.write("images.txt", "\(reg.name)/org/multi:1 --platform all\n")
            func sync() async throws -> (status: Int32, output: String, manifestGets: Int) {
                let run = try await imgsync(["sync", "--images", env.dir.file("images.txt"), "--root", root, "--ca-file", env.ca.caCert,
                                             "--log-level", "error", "--json", report])
                let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any]
                let registries = json?["registries"] as? [String: [String: Any]]
                let requests = registries?[reg.name]?["requests"] as? [String: Int]
                return (run.status, run.output, requests?["GET manifest"] ?? 0)
            }
            let first = try await sync()
            #expect(first.status == 0 && first.manifestGets > 0, "\(first.output)")
            let state = try #require(read(root + "/.imgsync/state.json"))
            #expect(state.contains("platformLists") && state.contains("s390x"), "\(state)")

            let again = try await sync()
            #expect(again.status == 0 && again.output.contains("4 unchanged"), "\(again.output)")
            #expect(again.manifestGets == 0, "an unchanged index is not fetched: \(again.manifestGets) manifest GETs")

            // A new index under the tag: read again, and arm64, gone from it, goes.
            try await env.push(layout, tag: "noarm", to: "\(reg.name)/org/multi:1", all: true)
            let changed = try await sync()
            #expect(changed.status == 0 && changed.manifestGets > 0, "\(changed.output)")
            #expect(!exists(root + "/org/multi:1@linux-arm64-v8") && read(root + "/org/multi:1@linux-s390x/x") == "s390x 2")
            let settled = try await sync()
            #expect(settled.status == 0 && settled.manifestGets == 0, "\(settled.output)")
        }
    }

    @Test func addChecksEveryListedPlatform() async throws {
        try await withFakeEnvironment { env in
            let (reg, _) = try await Self.registry(env)
            let list = env.dir.file("images.txt")
            try env.dir.write("images.txt", "")
            let common = ["--images", list, "--ca-file", env.ca.caCert]
            let missing = try await imgsync(["add", "\(reg.name)/org/multi:1", "--platform", "linux/amd64,linux/ppc64le"] + common)
            #expect(missing.status == 1 && missing.output.contains("has no image for linux/ppc64le"), "\(missing.output)")
            let mixed = try await imgsync(["add", "\(reg.name)/org/multi:1", "--platform", "all,linux/amd64"] + common)
            #expect(mixed.status != 0 && mixed.output.contains("cannot be combined"), "\(mixed.output)")
            #expect(read(list) == "")
            let added = try await imgsync(["add", "\(reg.name)/org/multi:1", "--platform", "linux/arm64,linux/amd64"] + common)
            #expect(added.status == 0, "\(added.output)")
            let all = try await imgsync(["add", "\(reg.name)/org/multi:2", "--platform", "all"] + common)
            #expect(all.status == 0 && all.output.contains("linux/s390x"), "\(all.output)")
            #expect(read(list) == "\(reg.name)/org/multi:1 --platform linux/arm64,linux/amd64\n\(reg.name)/org/multi:2 --platform all\n")

            // check resolves every platform a line names.
            let fine = try await imgsync(["check"] + common)
            #expect(fine.status == 0, "\(fine.output)")
            try env.dir.write("images.txt", "\(reg.name)/org/multi:1 --platform linux/amd64,linux/ppc64le\n")
            let bad = try await imgsync(["check"] + common)
            #expect(bad.status == 1 && bad.output.contains("images.txt:1: ") && bad.output.contains("has no image for linux/ppc64le"), "\(bad.output)")
        }
    }
}
