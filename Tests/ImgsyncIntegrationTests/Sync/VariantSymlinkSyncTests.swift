import Foundation
import ImgsyncCore
import ImgsyncRegistry
import ImgsyncRepository
@testable import ImgsyncSync
import Testing

/// `--cvmfs-variant-symlinks` end to end (issue 11 part 2), with the `imgsync` executable against a
/// real registry: the plain name of a two-platform line becomes `<name>@$(CVMFS_ARCH:-<machine>)`,
/// each platform gets a `uname -m` alias, and every reader still finds the plain name's tree.
@Suite(.timeLimit(.minutes(5))) struct VariantSymlinkSyncTests {
    let t = MultiPlatformSyncTests()

    func link(_ path: String) -> String? { try? FileManager.default.destinationOfSymbolicLink(atPath: path) }

    func verifyClean(_ root: String) async throws {
        let verify = try await t.imgsync(["verify", "--root", root])
        #expect(verify.status == 0 && verify.output.contains("0 problems found"), "\(verify.output)")
    }

    @Test func plainNameIsAVariantSymlinkThatEveryReaderFollows() async throws {
        try await withFakeEnvironment { env in
            let (reg, _) = try await MultiPlatformSyncTests.registry(env)
            let root = env.dir.file("root"), list = env.dir.file("images.txt")
            let sync = ["sync", "--images", list, "--root", root, "--ca-file", env.ca.caCert, "--grace", "0s", "--log-level", "error"]
            let variant = sync + ["--cvmfs-variant-symlinks"]
            try env.dir.write("images.txt", "\(reg.name)/org/multi:1 --platform linux/arm64/v8,linux/amd64\n")

            let first = try await t.imgsync(variant)
            #expect(first.status == 0, "\(first.output)")
            #expect(link(root + "/org/multi:1") == "multi:1@$(CVMFS_ARCH:-aarch64)", "the default is the first listed platform")
            let armTree = try #require(link(root + "/org/multi:1@linux-arm64-v8"))
            let amdTree = try #require(link(root + "/org/multi:1@linux-amd64"))
            #expect(armTree != amdTree)
            #expect(link(root + "/org/multi:1@aarch64") == armTree && link(root + "/org/multi:1@x86_64") == amdTree)
            #expect(t.read(root + "/org/multi:1@aarch64/x") == "arm64" && t.read(root + "/org/multi:1@x86_64/x") == "amd64")
            #expect(t.read(root + "/org/multi:1/x") == nil, "outside CVMFS the variant symlink does not resolve")
            let published = try FileManager.default.contentsOfDirectory(atPath: root + "/org").sorted()
            #expect(published == ["multi:1", "multi:1@aarch64", "multi:1@linux-amd64", "multi:1@linux-arm64-v8", "multi:1@x86_64"], "\(published)")
            try await verifyClean(root)

            // list --json reports the plain name's tree: the first platform's.
            let json = try await t.imgsync(["list", "--root", root, "--json"])
            #expect(json.status == 0, "\(json.output)")
            let status = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
            let names = try #require(status["names"] as? [[String: Any]])
            let plain = try #require(names.first { $0["name"] as? String == "org/multi:1" }, "\(names)")
            let armID = try #require(names.first { $0["name"] as? String == "org/multi:1@linux-arm64-v8" }?["imageID"] as? String)
            #expect(plain["imageID"] as? String == armID)
            #expect(plain["reference"] as? String == "\(reg.name)/org/multi:1", "the state record is matched to the name")

            // A second run changes nothing; GC with no grace deletes nothing live.
            let again = try await t.imgsync(variant)
            #expect(again.status == 0 && again.output.contains("5 unchanged"), "\(again.output)")
            #expect(link(root + "/org/multi:1") == "multi:1@$(CVMFS_ARCH:-aarch64)")
            let gc = try await t.imgsync(["gc", "--root", root, "--grace", "0s"])
            #expect(gc.status == 0, "\(gc.output)")
            #expect(t.exists(root + "/org/" + armTree) && t.exists(root + "/org/" + amdTree))
            #expect(t.read(root + "/org/multi:1@aarch64/x") == "arm64" && t.read(root + "/org/multi:1@x86_64/x") == "amd64")
            try await verifyClean(root)

            // Without the flag: an ordinary symlink to the first platform's tree, the aliases go.
            let plainRun = try await t.imgsync(sync)
            #expect(plainRun.status == 0, "\(plainRun.output)")
            #expect(link(root + "/org/multi:1") == armTree)
            #expect(t.read(root + "/org/multi:1/x") == "arm64")
            #expect(!t.exists(root + "/org/multi:1@aarch64") && !t.exists(root + "/org/multi:1@x86_64"))
            try await verifyClean(root)
            let plainAgain = try await t.imgsync(sync)
            #expect(plainAgain.status == 0 && plainAgain.output.contains("3 unchanged"), "\(plainAgain.output)")

            // With it again: a variant symlink once more.
            let back = try await t.imgsync(variant)
            #expect(back.status == 0, "\(back.output)")
            #expect(link(root + "/org/multi:1") == "multi:1@$(CVMFS_ARCH:-aarch64)")
            #expect(link(root + "/org/multi:1@x86_64") == amdTree)
            try await verifyClean(root)
        }
    }

    @Test func machineAliasesAndLinkText() throws {
        let p = { (text: String) in try Platform(parsing: text) }
        let platforms = [try p("linux/arm64/v8"), try p("linux/amd64"), try p("linux/ppc64le"), try p("linux/s390x"),
                         try p("linux/386"), try p("linux/arm/v7"), try p("linux/arm/v6"), try p("windows/amd64"), try p("linux/amd64/v3")]
        let aliases = SyncTarget.machineAliases(platforms, plain: platforms[1])
        #expect(aliases.map(\.machine) == ["aarch64", "x86_64", "ppc64le", "s390x", "i686", "armv7l"])
        #expect(aliases[1].platform == platforms[1], "the plain platform stands for its own machine")
        let arm = SyncTarget.machineAliases([try p("linux/arm64/v9"), try p("linux/arm64/v8"), try p("linux/amd64/v3")], plain: try p("linux/amd64/v3"))
        #expect(arm.map(\.platform.description) == ["linux/arm64/v8", "linux/amd64/v3"], "v8 when several arm64, the plain's own amd64")

        let text = CVMFSVariantLink.text(basename: "tool:2.0", defaultMachine: "x86_64")
        #expect(text == "tool:2.0@$(CVMFS_ARCH:-x86_64)")
        #expect(CVMFSVariantLink.defaultMachine(text: text, basename: "tool:2.0") == "x86_64")
        #expect(CVMFSVariantLink.defaultMachine(text: text, basename: "tool:2.1") == nil)
        #expect(CVMFSVariantLink.defaultMachine(text: "../.images/ab/cdef", basename: "tool:2.0") == nil)
        #expect(try PublishedName("org/tool:2.0@x86_64").isMachineAlias)
        #expect(try !PublishedName("org/tool:2.0@linux-amd64").isMachineAlias)
    }

    @Test func serveAcceptsTheOption() async throws {
        let help = try await t.imgsync(["serve", "--help"])
        #expect(help.output.contains("--cvmfs-variant-symlinks"), "\(help.output)")
    }
}
