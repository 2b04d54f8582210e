import ArgumentParser
import Foundation
import ImgsyncCore
import Testing
@testable import ImgsyncCommands

/// What a command printed, line by line.
final class CapturedConsole {
    var out: [String] = []
    var err: [String] = []
    var console: CommandConsole {
        CommandConsole(out: { self.out.append($0) }, err: { self.err.append($0) })
    }
    var all: String { (out + err).joined(separator: "\n") }
}

/// `imgsync add`, `remove` and `check` against a real registry: in-process for outputs and statuses,
/// and the built executable for the exit codes a shell sees.
@Suite(.timeLimit(.minutes(3))) struct ListCommandsTests {
    var executable: String {
        imgsyncExecutable
    }

    func run(_ arguments: [String], _ env: FakeEnvironment) async throws -> (status: Int32, output: CapturedConsole) {
        let captured = CapturedConsole()
        let environment = ["HOME": env.dir.path]
        let command = try Imgsync.parseAsRoot(arguments)
        let status: Int32
        switch command {
        case let add as AddCommand: status = try await add.execute(environment: environment, console: captured.console)
        case let remove as RemoveCommand: status = try remove.execute(console: captured.console)
        case let check as CheckCommand: status = try await check.execute(environment: environment, console: captured.console)
        default: throw CommandFailed(command: arguments, status: -1, output: "not a list command")
        }
        return (status, captured)
    }

    func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    /// A registry with lib/a:1 and lib/a:2 (one image), lib/b:1 and the two-platform lib/multi:1.
    func populatedRegistry(_ env: FakeEnvironment) async throws -> LocalRegistry {
        let reg = try await env.registry()
        let (layout, _) = try await env.layout(standardImages)
        try await env.push(layout, tag: "single", to: "\(reg.name)/lib/a:1")
        try await env.push(layout, tag: "single", to: "\(reg.name)/lib/a:2")
        try await env.push(layout, tag: "docker", to: "\(reg.name)/lib/b:1")
        try await env.push(layout, tag: "multi", to: "\(reg.name)/lib/multi:1", all: true)
        return reg
    }

    @Test func addChecksTheRegistryAndInsertsInPlace() async throws {
        try await withFakeEnvironment { env in
            let reg = try await populatedRegistry(env)
            let r = reg.name
            let file = env.dir.file("images.txt")
            let original = "# Test images\n\(r)/lib/b:1   # the b image\n\n# others\ndebian:12\n"
            try env.dir.write("images.txt", original)
            let ca = ["--images", file, "--ca-file", env.ca.caCert]

            // Exists: inserted after the other lib/ line of the same registry.
            let added = try await run(["add", "\(r)/lib/a:1"] + ca, env)
            #expect(added.status == 0, "\(added.output.all)")
            #expect(added.output.out.first?.hasPrefix("added \(r)/lib/a:1 at \(file):3 (publishes as lib/a:1); sha256:") == true)
            let afterFirst = "# Test images\n\(r)/lib/b:1   # the b image\n\(r)/lib/a:1\n\n# others\ndebian:12\n"
            #expect(try read(file) == afterFirst)

            // Duplicate (same normalised reference) is refused before the registry is asked.
            let duplicate = try await run(["add", "\(r)/lib/a:1"] + ca, env)
            #expect(duplicate.status == 1)
            #expect(duplicate.output.err.first == "error: \(r)/lib/a:1 is already listed at \(file):3 (\(r)/lib/a:1)")

            // Does not exist: refused with the registry's answer, file untouched.
            let missing = try await run(["add", "\(r)/lib/a:nosuchtag"] + ca, env)
            #expect(missing.status == 1)
            #expect(missing.output.err.first?.contains("manifest unknown: \(r)/lib/a:nosuchtag") == true, "\(missing.output.all)")
            let noRepo = try await run(["add", "\(r)/lib/nothere:1"] + ca, env)
            #expect(noRepo.status == 1)
            #expect(noRepo.output.err.first?.contains("lib/nothere") == true)
            #expect(try read(file) == afterFirst)

            // A glob must match at least one tag.
            let glob = try await run(["add", "\(r)/lib/a:[0-9]*"] + ca, env)
            #expect(glob.status == 0, "\(glob.output.all)")
            #expect(glob.output.out.first?.contains("matches 2 tags: 1, 2") == true, "\(glob.output.all)")
            let noMatch = try await run(["add", "\(r)/lib/b:v*"] + ca, env)
            #expect(noMatch.status == 1)
            #expect(noMatch.output.err.first?.contains("tag pattern \"v*\" matches none of the 1 tags of \(r)/lib/b") == true, "\(noMatch.output.all)")

            // --platform resolves the image for that platform.
            let arm = try await run(["add", "\(r)/lib/multi:1", "--platform", "linux/arm64"] + ca, env)
            #expect(arm.status == 0, "\(arm.output.all)")
            let s390 = try await run(["add", "\(r)/lib/multi:1", "--platform", "linux/s390x"] + ca, env)
            #expect(s390.status == 1)  // refused as a duplicate of the line just added
            let lines = try read(file).split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines == [
                "# Test images", "\(r)/lib/b:1   # the b image", "\(r)/lib/a:1", "\(r)/lib/a:[0-9]*",
                "\(r)/lib/multi:1 --platform linux/arm64", "", "# others", "debian:12", "",
            ])

            // remove matches the normalised form and keeps the comment lines.
            let removed = try await run(["remove", "\(r)/lib/a:[0-9]*", "--images", file], env)
            #expect(removed.status == 0)
            #expect(removed.output.out == ["removed \(file):4: \(r)/lib/a:[0-9]*"])
            let notListed = try await run(["remove", "docker.io/library/debian:13", "--images", file], env)
            #expect(notListed.status == 1)
            #expect(notListed.output.err.first?.contains("line 7 (debian:12)") == true, "\(notListed.output.all)")
        }
    }

    @Test func addWithSyncPublishesOnlyTheNewEntry() async throws {
        try await withFakeEnvironment { env in
            let reg = try await populatedRegistry(env)
            let file = env.dir.file("images.txt")
            // lib/b:1 is listed but was never synced; --sync must publish only the added entry.
            try env.dir.write("images.txt", "\(reg.name)/lib/b:1\n")
            let root = env.dir.file("root")
            let (status, out) = try await run(["add", "\(reg.name)/lib/a:1", "--images", file, "--ca-file", env.ca.caCert,
                                               "--sync", "--root", root], env)
            #expect(status == 0, "\(out.all)")
            #expect(FileManager.default.fileExists(atPath: root + "/lib/a:1/etc/a"), "\(out.all)")
            #expect(!FileManager.default.fileExists(atPath: root + "/lib/b:1"))
            #expect(try read(file).contains("\(reg.name)/lib/a:1"))
        }
    }

    @Test func addRefusesAPlatformTheImageDoesNotHave() async throws {
        try await withFakeEnvironment { env in
            let reg = try await populatedRegistry(env)
            let file = env.dir.file("images.txt")
            try env.dir.write("images.txt", "")
            let result = try await run(["add", "\(reg.name)/lib/multi:1", "--platform", "linux/s390x", "--images", file, "--ca-file", env.ca.caCert], env)
            #expect(result.status == 1)
            #expect(result.output.err.first?.contains("linux/s390x") == true, "\(result.output.all)")
            #expect(try read(file) == "")
        }
    }

    @Test func checkResolvesEveryEntryAndExitsZeroOneOrTwo() async throws {
        try await withFakeEnvironment { env in
            let reg = try await populatedRegistry(env)
            let r = reg.name
            let good = "# good list\n\(r)/lib/a:1\n\(r)/lib/a:*   # both tags\n\(r)/lib/multi:1 --platform linux/arm64\n"
            try env.dir.write("good.txt", good)
            let ca = ["--ca-file", env.ca.caCert]

            let ok = try await run(["check", "--images", env.dir.file("good.txt")] + ca, env)
            #expect(ok.status == 0, "\(ok.output.all)")
            #expect(ok.output.out == ["\(env.dir.file("good.txt")): 3 entries on 4 lines (1 tag patterns), 3 images, 3 resolved, 0 problems"])

            let bad = "\(r)/lib/a:1\n\(r)/lib/a:nosuchtag\nNOT/valid\n\(r)/lib/b:zz*\n\(r)/lib/a:1\n\(r)/lib/gone:*\n"
                + "\(r)/lib/multi:1 --platform linux/s390x\n"
            try env.dir.write("bad.txt", bad)
            let checked = try await run(["check", "--images", env.dir.file("bad.txt")] + ca, env)
            #expect(checked.status == 1)
            let f = env.dir.file("bad.txt")
            #expect(checked.output.out.count == 7, "\(checked.output.all)")
            #expect(checked.output.out[0].hasPrefix("\(f):2: \(r)/lib/a:nosuchtag does not resolve: manifest unknown"))
            #expect(checked.output.out[1].hasPrefix("\(f):3: invalid image reference \"NOT/valid\""))
            #expect(checked.output.out[2] == "\(f):4: tag pattern \"zz*\" matches none of the 1 tags of \(r)/lib/b")
            #expect(checked.output.out[3] == "\(f):5: \(r)/lib/a:1 is already listed on line 1; this line is ignored")
            #expect(checked.output.out[4].hasPrefix("\(f):6: cannot list the tags of \(r)/lib/gone to expand \"*\""))
            // The index has linux/amd64 and linux/arm64 only: the line's platform is a problem, as in `add`.
            #expect(checked.output.out[5].hasPrefix("\(f):7: \(r)/lib/multi:1 does not resolve:"), "\(checked.output.all)")
            #expect(checked.output.out[5].contains("linux/s390x"), "\(checked.output.all)")
            #expect(checked.output.out[6] == "\(f): 5 entries on 7 lines (2 tag patterns), 3 images, 1 resolved, 6 problems")

            let json = try await run(["check", "--json", "--images", f] + ca, env)
            #expect(json.status == 1)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.output.out.joined(separator: "\n").utf8)) as? [String: Any])
            #expect(object["ok"] as? Bool == false)
            #expect((object["problems"] as? [[String: Any]])?.compactMap { $0["line"] as? Int } == [2, 3, 4, 5, 6, 7])
            let images = try #require(object["images"] as? [[String: Any]])
            #expect(images.first?["name"] as? String == "lib/a:1")
            #expect((images.first?["digest"] as? String)?.hasPrefix("sha256:") == true)

            // An unreadable list is exit 2 and nothing else is attempted.
            let unreadable = try await run(["check", "--images", env.dir.file("missing.txt")] + ca, env)
            #expect(unreadable.status == 2)
            #expect(unreadable.output.err == ["error: cannot read the image list \(env.dir.file("missing.txt")): no such file"])
        }
    }

    @Test func checkReadsTheListFromAnHTTPSURL() async throws {
        try await withFakeEnvironment { env in
            let reg = try await populatedRegistry(env)
            let text = "# served list\n\(reg.name)/lib/b:1\n"
            let server = try await env.server("127.0.0.2", [
                Route("GET", "/lists/images.txt", Reply(200, headers: [("Content-Type", "text/plain")], body: text)),
                Route("GET", "/moved.txt", Reply(302, headers: [("Location", "/lists/images.txt")])),
                Route("GET", "/huge.txt", Reply(200, body: String(repeating: "# padding line\n", count: 300_000))),
            ])
            let ca = ["--ca-file", env.ca.caCert]
            let ok = try await run(["check", "--images", "\(server.url)/moved.txt"] + ca, env)
            #expect(ok.status == 0, "\(ok.output.all)")
            #expect(ok.output.out == ["\(server.url)/moved.txt: 1 entries on 2 lines (0 tag patterns), 1 images, 1 resolved, 0 problems"])

            let missing = try await run(["check", "--images", "\(server.url)/nothere.txt"] + ca, env)
            #expect(missing.status == 2)
            #expect(missing.output.err.first?.contains("HTTP 404") == true, "\(missing.output.all)")
            let huge = try await run(["check", "--images", "\(server.url)/huge.txt"] + ca, env)
            #expect(huge.status == 2)
            #expect(huge.output.err.first?.contains("limit") == true, "\(huge.output.all)")
            let untrusted = try await run(["check", "--images", "\(server.url)/lists/images.txt"], env)
            #expect(untrusted.status == 2)
            #expect(untrusted.output.err.first?.contains("TLS") == true, "\(untrusted.output.all)")
        }
    }

    @Test func theExecutableExitsWithTheDocumentedCodes() async throws {
        try await withFakeEnvironment { env in
            let reg = try await populatedRegistry(env)
            try env.dir.write("images.txt", "\(reg.name)/lib/a:1\n")
            try env.dir.write("bad.txt", "\(reg.name)/lib/a:nosuchtag\n")
            let base = ["env", "HOME=\(env.dir.path)", executable]
            let ok = try await ChildProcess.run(base + ["check", "--images", env.dir.file("images.txt"), "--ca-file", env.ca.caCert])
            #expect(ok.contains("1 resolved, 0 problems"))
            let cases: [([String], Int32, String)] = [
                (["check", "--images", env.dir.file("bad.txt"), "--ca-file", env.ca.caCert], 1, "manifest unknown"),
                (["check", "--images", env.dir.file("nothere.txt")], 2, "no such file"),
                (["add", "UPPER/case:1", "--images", env.dir.file("images.txt")], 2, "must be lowercase"),
                (["check", "--no-such-option"], 2, "no-such-option"),
                (["remove", "\(reg.name)/lib/a:2", "--images", env.dir.file("images.txt")], 1, "is not listed"),
            ]
            for (arguments, status, fragment) in cases {
                do {
                    try await ChildProcess.run(base + arguments)
                    Issue.record("\(arguments) succeeded")
                } catch let failure as CommandFailed {
                    #expect(failure.status == status, "\(arguments): \(failure.output)")
                    #expect(failure.output.contains(fragment), "\(arguments): \(failure.output)")
                }
            }
            let removed = try await ChildProcess.run(base + ["remove", "\(reg.name)/lib/a:1", "--images", env.dir.file("images.txt")])
            #expect(removed.contains("removed"))
            #expect(try read(env.dir.file("images.txt")) == "")
        }
    }
}
