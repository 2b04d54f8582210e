import Foundation
import ImgsyncCore
import ImgsyncRepository
import ImgsyncRegistry
import Testing
@testable import ImgsyncSync

/// Issue 8, "one image can never end the run": each image is built by a build worker process, so a
/// trap in one build fails that image only. The trap is planted with the test hook
/// `IMGSYNC_FAULT_INJECTION=trap:<name>` (read by build workers) in the executable users run.
@Suite(.timeLimit(.minutes(5))) struct SyncWorkerTests {
    func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    func contents(_ path: String) -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] }

    /// Every path of a tree with inode, mode, size, mtime and content; directories also with ctime
    /// (an entry added or removed). Files' ctime is left out: in hardlink mode they are object
    /// inodes, whose link count (and so ctime) changes whenever another tree links the same body.
    func fingerprint(_ tree: String) -> [String: String] {
        var out: [String: String] = [:]
        let e = FileManager.default.enumerator(atPath: tree)
        while let rel = e?.nextObject() as? String {
            var st = stat()
            guard lstat(tree + "/" + rel, &st) == 0 else { continue }
            var line = "\(st.st_ino) \(st.st_mode) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
            if (st.st_mode & S_IFMT) == S_IFDIR { line += " \(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec)" }
            if (st.st_mode & S_IFMT) == S_IFREG { line += " " + (read(tree + "/" + rel) ?? "?") }
            out[rel] = line
        }
        return out
    }

    @Test func aTrapInOneBuildFailsOnlyThatImage() async throws {
        try await withFakeEnvironment { env in
            let reg = try await env.registry()
            let (layout, _) = try await env.layout(SyncEndToEndTests.imagesJSON(try SyncEndToEndTests.writeLayers(env)))
            try await env.push(layout, tag: "base", to: "\(reg.name)/org/base:1")
            try await env.push(layout, tag: "app10", to: "\(reg.name)/org/app:1")
            try await env.push(layout, tag: "docker", to: "\(reg.name)/org/docker:1", format: "v2s2")
            try await env.push(layout, tag: "multi", to: "\(reg.name)/org/multi:1", all: true)
            let root = env.dir.file("root"), json = env.dir.file("report.json")
            let sync = ["sync", "--images", env.dir.file("images.txt"), "--root", root, "--ca-file", env.ca.caCert,
                        "--log-level", "error", "--json", json, "--jobs", "2"]

            // 1. Without the fault: org/app:1 is published (app 1.0).
            try env.dir.write("images.txt", "\(reg.name)/org/base:1\n\(reg.name)/org/app:1\n")
            let first = try await imgsync(env, sync)
            #expect(first.status == 0, "\(first.output)")
            #expect(read(root + "/org/app:1/app/version") == "1.0\n")
            let repository = try Repository(root: root)
            let oldID = try #require(repository.imageID(of: try PublishedName("org/app:1")))
            let oldTree = fingerprint(repository.imagePath(oldID))

            // 2. The tag moves to app 1.1, two new images join the list, and the build of
            //    org/app:1 traps right before it would publish.
            try await env.push(layout, tag: "app11", to: "\(reg.name)/org/app:1")
            try env.dir.write("images.txt", ["base", "app", "docker", "multi"].map { "\(reg.name)/org/\($0):1" }.joined(separator: "\n") + "\n")
            let trapped = try await imgsync(env, sync, extraEnvironment: ["IMGSYNC_FAULT_INJECTION=trap:org/app:1"])
            #expect(trapped.status == 1, "\(trapped.output)")
            #expect(trapped.output.contains("2 added"), "\(trapped.output)")
            #expect(trapped.output.contains("1 unchanged"), "\(trapped.output)")
            #expect(trapped.output.contains("1 failed"), "\(trapped.output)")
            let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
            let images = report?["images"] as? [[String: Any]] ?? []
            let failed = images.filter { $0["outcome"] as? String == "failed" }
            #expect(failed.map { $0["name"] as? String } == ["org/app:1"], "\(images)")
            let error = failed.first?["error"] as? String ?? ""
            #expect(error.hasPrefix("the build worker died of signal SIG"), "\(error)")
            #expect(error.contains("SIGILL") || error.contains("SIGTRAP"), "\(error)")
            #expect(error.contains("a bug in imgsync: please report it"), "\(error)")
            #expect(error.contains("IMGSYNC_FAULT_INJECTION: trap before publishing org/app:1"), "the trap's message is quoted: \(error)")
            #expect(error.hasSuffix("; the published tree is unchanged"), "\(error)")
            #expect(trapped.output.contains("failed: org/app:1 ("), "\(trapped.output)")

            // The others are published; the trapped name still shows its previous tree, untouched.
            #expect(read(root + "/org/docker:1/app/version") == "1.0\n")
            #expect(read(root + "/org/multi:1/arch") == "amd64")
            #expect(read(root + "/org/base:1/etc/motd") == "hello from the upper layer\n")
            #expect(repository.imageID(of: try PublishedName("org/app:1")) == oldID)
            #expect(read(root + "/org/app:1/app/version") == "1.0\n")
            #expect(fingerprint(repository.imagePath(oldID)) == oldTree, "the previous tree was modified")
            // The dead worker's staging tree and temporaries are gone; the state still records 1.0.
            #expect(contents(root + "/.imgsync/staging").isEmpty, "staging left: \(contents(root + "/.imgsync/staging"))")
            #expect(contents(root + "/.objects/tmp").isEmpty, "object temporaries left: \(contents(root + "/.objects/tmp"))")
            #expect(!contents(root + "/org").contains { $0.hasPrefix(".imgsync-link-") })
            #expect(try repository.readState().names["org/app:1"]?.imageID == oldID)
            let verify = try await imgsync(env, ["verify", "--root", root])
            #expect(verify.status == 0, "\(verify.output)")

            // 3. Without the fault the next run publishes 1.1; nothing else changes.
            let healed = try await imgsync(env, sync)
            #expect(healed.status == 0, "\(healed.output)")
            #expect(healed.output.contains("1 updated") && healed.output.contains("3 unchanged"), "\(healed.output)")
            #expect(read(root + "/org/app:1/app/version") == "1.1\n")
        }
    }
}
