import Foundation
import ImgsyncCore
import ImgsyncRepository
import ImgsyncRegistry
import ImgsyncTestSupport
import Logging
import Synchronization
import Testing
@testable import ImgsyncSync

/// Issue 10, "data loss and wrong results": what a site administrator meets on a real registry.
/// The tests that run the `imgsync` executable run whichever build `imgsyncExecutable` names, so CI
/// runs them against the release binary too (item 0 was a bug of the optimised build only).
@Suite(.timeLimit(.minutes(5))) struct OperationsSafetyTests {
    let e2e = SyncEndToEndTests()

    func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    /// Item 0: a tag pattern expands in the binary users run, and a line that produced no image
    /// (a pattern matching nothing) is a failure of the run, counted in the summary.
    @Test func tagPatternsExpandAndALineWithoutImagesFails() async throws {
        try await withFakeEnvironment { env in
            let reg = try await SyncEndToEndTests.appRegistry(env)
            try env.dir.write("images.txt", "\(reg.name)/org/app:*\n\(reg.name)/org/app:9.*\n")
            let root = env.dir.file("root")
            let run = try await imgsync(env, ["sync", "--images", env.dir.file("images.txt"), "--root", root,
                                             "--ca-file", env.ca.caCert, "--log-level", "error"])
            #expect(run.status == 1, "\(run.output)")
            #expect(run.output.contains("2 added"), "\(run.output)")
            #expect(run.output.contains("1 failed (1 of them list line that produced no image)"), "\(run.output)")
            #expect(run.output.contains("images.txt:2: tag pattern \"9.*\" matches none"), "\(run.output)")
            #expect(read(root + "/org/app:1/app/version") == "1.0\n")
            #expect(read(root + "/org/app:2/app/version") == "1.1\n")

            try env.dir.write("ok.txt", "\(reg.name)/org/app:*\n")
            let check = try await imgsync(env, ["check", "--images", env.dir.file("ok.txt"), "--ca-file", env.ca.caCert])
            #expect(check.status == 0, "\(check.output)")
            #expect(check.output.contains("2 resolved, 0 problems"), "\(check.output)")
        }
    }

    /// Item 3: a single-platform image is not published for another platform; `--platform any`
    /// on the line takes it as it is.
    @Test func aSinglePlatformImageForAnotherPlatformFailsItsLine() async throws {
        try await withFakeEnvironment { env in
            let reg = try await SyncEndToEndTests.appRegistry(env)
            let root = env.dir.file("root")
            let ref = try ImageReference(parsing: "\(reg.name)/org/app:1")
            let arm = SyncTarget(name: try PublishedName("org/app:1"), reference: ref,
                                 platform: try Platform(parsing: "linux/arm64"), origin: "images.txt:1")
            // Another image of the list publishes: the run is a partial failure (exit 1).
            let refused = try await e2e.sync(env, root: root, [arm, try e2e.target(reg, "org/app:2")])
            #expect(refused.exitCode == 1)
            #expect(refused.count(.failed) == 1 && refused.count(.added) == 1)
            let message = refused.images.first { $0.name == "org/app:1" }?.error ?? ""
            #expect(message.contains("single-platform image for linux/amd64, not linux/arm64/v8"), "\(message)")
            #expect(message.contains("--platform any"), "\(message)")
            #expect(!FileManager.default.fileExists(atPath: root + "/org/app:1"))

            // The line's `--platform any` accepts it; the record says what was published.
            try env.dir.write("images.txt", "\(reg.name)/org/app:1 --platform any\n")
            let run = try await imgsync(env, ["sync", "--images", env.dir.file("images.txt"), "--root", root, "--platform", "linux/arm64",
                                             "--ca-file", env.ca.caCert, "--log-level", "error"])
            #expect(run.status == 0, "\(run.output)")
            #expect(read(root + "/org/app:1/app/version") == "1.0\n")
            let state = try Repository(root: root).readState()
            #expect(state.names["org/app:1"]?.platform == "linux/amd64")
            // Unchanged on the next run (the record serves the line).
            let again = try await imgsync(env, ["sync", "--images", env.dir.file("images.txt"), "--root", root, "--platform", "linux/arm64",
                                               "--ca-file", env.ca.caCert, "--log-level", "error"])
            #expect(again.output.contains("1 unchanged"), "\(again.output)")

            // `imgsync add` refuses the mismatch before the line is written.
            try env.dir.write("add.txt", "")
            let add = try await imgsync(env, ["add", "\(reg.name)/org/app:2", "--platform", "linux/arm64", "--images", env.dir.file("add.txt"),
                                             "--ca-file", env.ca.caCert])
            #expect(add.status == 1, "\(add.output)")
            #expect(add.output.contains("single-platform image for linux/amd64"), "\(add.output)")
            #expect(read(env.dir.file("add.txt")) == "")
        }
    }

    /// Item 4: `--keep-registry` is recorded; a run that contradicts it is refused (exit 2,
    /// nothing moved) unless it migrates; a run without the flag follows the repository.
    @Test func pathShapingSettingsAreRemembered() async throws {
        try await withFakeEnvironment { env in
            let reg = try await SyncEndToEndTests.appRegistry(env)
            try env.dir.write("images.txt", "\(reg.name)/org/app:1\n")
            let root = env.dir.file("root")
            let base = ["sync", "--images", env.dir.file("images.txt"), "--root", root, "--ca-file", env.ca.caCert, "--log-level", "error"]
            let kept = "\(root)/\(reg.name)/org/app:1"
            let first = try await imgsync(env, base + ["--keep-registry"])
            #expect(first.status == 0, "\(first.output)")
            #expect(read(kept + "/app/version") == "1.0\n")

            let contradicting = try await imgsync(env, base + ["--no-keep-registry"])
            #expect(contradicting.status == 2, "\(contradicting.output)")
            #expect(contradicting.output.contains("published with --keep-registry"), "\(contradicting.output)")
            #expect(contradicting.output.contains("--migrate-paths"), "\(contradicting.output)")
            #expect(read(kept + "/app/version") == "1.0\n")
            #expect(!FileManager.default.fileExists(atPath: root + "/org/app:1"))

            let following = try await imgsync(env, base)
            #expect(following.status == 0, "\(following.output)")
            #expect(following.output.contains("1 unchanged"), "\(following.output)")
            #expect(read(kept + "/app/version") == "1.0\n")
            #expect(!FileManager.default.fileExists(atPath: root + "/org/app:1"))

            let migrated = try await imgsync(env, base + ["--no-keep-registry", "--migrate-paths"])
            #expect(migrated.status == 0, "\(migrated.output)")
            #expect(read(root + "/org/app:1/app/version") == "1.0\n")
            #expect(!FileManager.default.fileExists(atPath: kept))
            #expect(try Repository(root: root).readState().keepRegistry == false)
        }
    }

    /// Item 5: commands that read or maintain a repository refuse a path that is not one, and
    /// create nothing there.
    @Test func aMistypedRootIsRefused() async throws {
        try await withFakeEnvironment { env in
            let missing = env.dir.file("no-such-root")
            try FileManager.default.createDirectory(atPath: env.dir.file("not-a-repo"), withIntermediateDirectories: true)
            for root in [missing, env.dir.file("not-a-repo")] {
                for command in [["verify"], ["verify", "--repair"], ["gc"], ["stats"], ["list"], ["status"], ["catalog", "org/a:1"]] {
                    let run = try await imgsync(env, command + ["--root", root])
                    #expect(run.status == 2, "\(command) \(root): \(run.output)")
                    #expect(run.output.contains("is not an imgsync repository"), "\(command): \(run.output)")
                    #expect(!run.output.contains("0 problems"), "\(command): \(run.output)")
                }
            }
            #expect(!FileManager.default.fileExists(atPath: missing))
            #expect(try FileManager.default.contentsOfDirectory(atPath: env.dir.file("not-a-repo")).isEmpty)
            // IMGSYNC_ROOT is honoured the same way.
            let viaEnv = try await imgsync(env, ["stats"], extraEnvironment: ["IMGSYNC_ROOT=\(missing)"])
            #expect(viaEnv.status == 2 && viaEnv.output.contains("is not an imgsync repository"), "\(viaEnv.output)")
            #expect(!FileManager.default.fileExists(atPath: missing))
        }
    }

    /// Item 16: each image's record is in `state.json` as soon as its name is published, not only
    /// at the end of the run (a killed run leaves a state that knows what it published).
    @Test func eachImageIsRecordedAsItIsPublished() async throws {
        try await withFakeEnvironment { env in
            let reg = try await SyncEndToEndTests.appRegistry(env)
            let root = env.dir.file("root")
            let targets = [try e2e.target(reg, "org/app:1"), try e2e.target(reg, "org/app:2")]
            let seen = Mutex<[String: [String]]>([:])
            let report = try await e2e.sync(env, root: root, targets) { options in
                options.jobs = 1
                // In process: a build worker cannot call this closure.
                options.workerExecutable = nil
                let decorate = options.decorate
                options.decorate = { builder, image in
                    // Before this image is published: what the state on disk says so far.
                    let names = (try? Repository.readState(root: root))??.names.keys.sorted() ?? []
                    seen.withLock { $0[image.reference.description] = names }
                    return try decorate?(builder, image) ?? []
                }
            }
            #expect(report.exitCode == 0, "\(report.text())")
            let observed = seen.withLock { $0 }
            #expect(observed["\(reg.name)/org/app:1"] == [], "nothing recorded before the first image")
            #expect(observed["\(reg.name)/org/app:2"] == ["org/app:1"], "the first image was recorded when it was published: \(observed)")
        }
    }

    /// Items 11 and 12: what a person sees. One exit status per kind of failure across commands,
    /// errors in our words and printed once, `--version`, dry runs that say "would", warnings in
    /// the summary, `add` into a new list, and a URL scheme on a reference explained.
    @Test func messagesAndStatusesAreTheSameEverywhere() async throws {
        try await withFakeEnvironment { env in
            let reg = try await SyncEndToEndTests.appRegistry(env)
            let version = try await imgsync(env, ["--version"])
            #expect(version.status == 0 && version.output.trimmingCharacters(in: .whitespacesAndNewlines) == ImgsyncVersion.current, "\(version.output)")

            // A missing CA file: a configuration error, 2 for every command, said once, in our words.
            try env.dir.write("images.txt", "\(reg.name)/org/app:1\n")
            let noCA = ["--ca-file", env.dir.file("missing-ca.pem")]
            for command in [["sync", "--images", env.dir.file("images.txt"), "--root", env.dir.file("r")],
                            ["check", "--images", env.dir.file("images.txt")],
                            ["inspect", "\(reg.name)/org/app:1"]] {
                let run = try await imgsync(env, command + noCA)
                #expect(run.status == 2, "\(command[0]): \(run.output)")
                #expect(run.output.components(separatedBy: "cannot read the CA file").count == 2, "said once: \(command[0]): \(run.output)")
                for leaked in ["NSCocoaErrorDomain", "Code=", "NIOSSL", "BoringSSL", "/build/"] {
                    #expect(!run.output.contains(leaked), "\(command[0]): \(run.output)")
                }
            }

            // A reference written as a URL.
            let url = try await imgsync(env, ["add", "https://\(reg.name)/org/app:1", "--images", env.dir.file("images.txt")])
            #expect(url.status == 2, "\(url.output)")
            #expect(url.output.contains("drop \"https://\" and write \(reg.name)/org/app:1"), "\(url.output)")

            // `add` starts a list that does not exist yet.
            let fresh = env.dir.file("new-list.txt")
            let added = try await imgsync(env, ["add", "\(reg.name)/org/app:2", "--images", fresh, "--ca-file", env.ca.caCert])
            #expect(added.status == 0, "\(added.output)")
            #expect(read(fresh) == "\(reg.name)/org/app:2\n")

            // Warnings reach the summary; a dry run says what it would remove.
            let root = env.dir.file("root"), json = env.dir.file("report.json")
            try env.dir.write("two.txt", "\(reg.name)/org/app:1\n\(reg.name)/org/app:2\n")
            let sync = try await imgsync(env, ["sync", "--images", env.dir.file("two.txt"), "--root", root, "--ca-file", env.ca.caCert,
                                              "--json", json, "--log-level", "error"])
            #expect(sync.status == 0, "\(sync.output)")
            let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
            let images = report?["images"] as? [[String: Any]] ?? []
            let warned = images.filter { !(($0["warnings"] as? [String]) ?? []).isEmpty }
            #expect(!warned.isEmpty, "the test images have no /etc/passwd: a warning is expected")
            for image in warned {
                let name = image["name"] as? String ?? "?"
                #expect(sync.output.contains("warning: \(name): "), "\(sync.output)")
            }
            let dry = try await imgsync(env, ["sync", "--images", env.dir.file("images.txt"), "--root", root, "--ca-file", env.ca.caCert,
                                             "--dry-run", "--log-level", "error"])
            #expect(dry.output.contains("would remove: org/app:2"), "\(dry.output)")
            #expect(dry.output.contains("1 would be removed"), "\(dry.output)")
            #expect(!dry.output.contains("removed: "), "\(dry.output)")
            #expect(FileManager.default.fileExists(atPath: root + "/org/app:2"))
        }
    }

    /// Found walking through docs/operations.md: the unit runs as the `imgsync` user, whose soft
    /// limit on open files is 1,024 (as for any systemd service); two builds of images with many
    /// directories and bodies then failed with "Too many open files". The executable raises its
    /// soft limit to the hard one.
    @Test func syncWorksUnderTheDefaultOpenFileLimit() async throws {
        try await withFakeEnvironment { env in
            let reg = try await env.registry()
            var layers: [String] = []
            for image in 0..<2 {
                var t = TarBuilder()
                for d in 0..<3000 {
                    t.dir("d\(d)/")
                    t.file("d\(d)/f", "image \(image) directory \(d)\n")
                }
                let path = env.dir.file("many-\(image).tar")
                try Data(t.build()).write(to: URL(fileURLWithPath: path))
                layers.append(path)
            }
            let (layout, _) = try await env.layout("""
                [{"tag":"a","manifests":[{"layers":[{"tar":"\(layers[0])","compression":"gzip"}]}]},
                 {"tag":"b","manifests":[{"layers":[{"tar":"\(layers[1])","compression":"gzip"}]}]}]
                """)
            try await env.push(layout, tag: "a", to: "\(reg.name)/org/many:a")
            try await env.push(layout, tag: "b", to: "\(reg.name)/org/many:b")
            try env.dir.write("images.txt", "\(reg.name)/org/many:a\n\(reg.name)/org/many:b\n")
            let root = env.dir.file("root")
            let command = "ulimit -Sn 1024 && exec '\(imgsyncExecutable)' sync --images '\(env.dir.file("images.txt"))' --root '\(root)' "
                + "--ca-file '\(env.ca.caCert)' --jobs 2 --log-level error"
            let run: (status: Int32, output: String)
            do {
                run = (0, try await ChildProcess.run(["sh", "-c", command], timeout: 240))
            } catch let failure as CommandFailed {
                run = (failure.status, failure.output)
            }
            #expect(run.status == 0, "\(run.output)")
            #expect(!run.output.contains("Too many open files"), "\(run.output)")
            #expect(read(root + "/org/many:b/d2999/f") == "image 1 directory 2999\n")
        }
    }
}
