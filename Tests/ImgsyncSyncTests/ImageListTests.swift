import Foundation
import ImgsyncCore
import ImgsyncRegistry
import Synchronization
import Testing
@testable import ImgsyncSync

/// The real OSG list (746 lines, 562 entries). Read in place, never copied into the repository.
/// `../shared/` beside the checkout, as CI lays it out.
let osgListPath = ProcessInfo.processInfo.environment["IMGSYNC_OSG_LIST"]
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/data/osg-docker_images.txt").path

func osgListText() throws -> String {
    let data = try #require(FileManager.default.contents(atPath: osgListPath), "the OSG list is missing at \(osgListPath) (set IMGSYNC_OSG_LIST)")
    return String(decoding: data, as: UTF8.self)
}

func entry(_ list: ImageList, line: Int) throws -> ImageListEntry {
    try #require(list.entries.first { $0.line == line }, "no entry on line \(line); issues: \(list.issues)")
}

@Suite("Image list parsing")
struct ImageListParsingTests {
    @Test func commentsBlanksPlatformsAndTrailingComments() throws {
        let text = "# header\n\n   \ndebian:12\n\tubuntu   # trailing comment\r\nghcr.io/a/b:1 --platform linux/arm64\nquay.io/x/y:2 --platform=linux/arm/v7 # c\n  # indented comment\nalpine#notacomment\n"
        let list = ImageList.parse(text: text, source: "t.txt")
        #expect(list.lineCount == 9)
        #expect(list.entries.map(\.line) == [4, 5, 6, 7])
        #expect(list.entries.map(\.normalized) == [
            "docker.io/library/debian:12", "docker.io/library/ubuntu:latest", "ghcr.io/a/b:1", "quay.io/x/y:2",
        ])
        #expect(list.entries.map(\.platform) == [nil, nil, "linux/arm64/v8", "linux/arm/v7"])
        #expect(list.entries.map(\.text) == ["debian:12", "ubuntu", "ghcr.io/a/b:1", "quay.io/x/y:2"])
        // `#` glued to a reference is not a comment: the line is reported, not silently truncated.
        #expect(list.issues.map(\.line) == [9])
        #expect(list.issues.first?.description.hasPrefix("t.txt:9: invalid image reference \"alpine#notacomment\"") == true)
    }

    @Test func normalisesAsDockerDoes() throws {
        let digest = "sha256:" + String(repeating: "ab", count: 32)
        let cases: [(String, registry: String, repository: String, tag: String?, name: String)] = [
            ("debian", "docker.io", "library/debian", "latest", "library/debian:latest"),
            ("ubuntu:22.04", "docker.io", "library/ubuntu", "22.04", "library/ubuntu:22.04"),
            ("rocker/r-ver:4", "docker.io", "rocker/r-ver", "4", "rocker/r-ver:4"),
            ("index.docker.io/library/debian:12", "docker.io", "library/debian", "12", "library/debian:12"),
            ("docker.io/debian:11", "docker.io", "library/debian", "11", "library/debian:11"),
            ("hub.opensciencegrid.org/htc/rocky:9", "hub.opensciencegrid.org", "htc/rocky", "9", "htc/rocky:9"),
            ("ghcr.io/ml4gw/hermes/tritonserver:22.02", "ghcr.io", "ml4gw/hermes/tritonserver", "22.02", "ml4gw/hermes/tritonserver:22.02"),
            ("localhost/a", "localhost", "a", "latest", "a:latest"),
            ("localhost:5000/a/b", "localhost:5000", "a/b", "latest", "a/b:latest"),
            ("127.0.0.1:5443/lib/a:1", "127.0.0.1:5443", "lib/a", "1", "lib/a:1"),
            ("alpine@\(digest)", "docker.io", "library/alpine", nil, "library/alpine@\(digest)"),
            ("alpine:3.20@\(digest)", "docker.io", "library/alpine", "3.20", "library/alpine@\(digest)"),
        ]
        let list = ImageList.parse(text: cases.map(\.0).joined(separator: "\n"), source: "n.txt")
        #expect(list.issues.isEmpty, "\(list.issues)")
        #expect(list.entries.count == cases.count)
        for (entry, c) in zip(list.entries, cases) {
            #expect(entry.reference.registry == c.registry, "\(c.0)")
            #expect(entry.reference.repository == c.repository, "\(c.0)")
            #expect(entry.reference.tag == c.tag, "\(c.0)")
            #expect(try entry.reference.publishedName().description == c.name, "\(c.0)")
            #expect(try entry.reference.publishedName(keepRegistry: true).description == "\(c.registry)/\(c.name)", "\(c.0)")
            #expect(!entry.isPattern)
        }
        #expect(list.entries[10].reference.digest?.description == digest)
    }

    @Test func badLinesAreReportedWithTheirLineAndReason() throws {
        let text = """
            debian:12
            Ubuntu/Upper:1
            ubuntu:bad/tag
            alpine@sha256:1234
            busybox --arch amd64
            busybox:1 --platform
            busybox:2 --platform linux
            --platform linux/amd64 busybox
            gromacs/gromacs:*@sha256:\(String(repeating: "0", count: 64))
            gromacs/gromacs:v[12
            gromacs/gromacs:v[z-a]
            busybox:3 --platform linux/amd64 --platform linux/arm64
            python:3.12
            """
        let list = ImageList.parse(text: text, source: "bad.txt")
        #expect(list.entries.map(\.line) == [1, 13])
        let byLine = Dictionary(list.issues.map { ($0.line, $0.description) }, uniquingKeysWith: { a, _ in a })
        #expect(Array(byLine.keys).sorted() == Array(2...12))
        let expected: [Int: String] = [
            2: "must be lowercase",
            3: "bad/tag",
            4: "sha256:1234",
            5: "unexpected \"--arch\"",
            6: "--platform needs a value",
            7: "invalid platform \"linux\"",
            8: "expected an image reference at the start of the line",
            9: "cannot be combined with a digest",
            10: "has no closing \"]\"",
            11: "runs backwards",
            12: "--platform is given twice",
        ]
        for (line, fragment) in expected {
            let message = try #require(byLine[line])
            #expect(message.hasPrefix("bad.txt:\(line): "), "\(message)")
            #expect(message.contains(fragment), "line \(line): \(message)")
        }
    }

    @Test func duplicatesNameBothLines() throws {
        let text = "debian\nubuntu:22.04\ndocker.io/library/debian:latest\nindex.docker.io/library/ubuntu:22.04 --platform linux/arm64\ngromacs/gromacs:*\ndocker.io/gromacs/gromacs:*\n"
        let list = ImageList.parse(text: text, source: "d.txt")
        #expect(list.entries.map(\.line) == [1, 2, 5])
        #expect(list.issues.map(\.description) == [
            "d.txt:3: docker.io/library/debian:latest is already listed on line 1; this line is ignored",
            "d.txt:4: docker.io/library/ubuntu:22.04 is already listed on line 2; this line is ignored",
            "d.txt:6: docker.io/gromacs/gromacs:* is already listed on line 5; this line is ignored",
        ])
    }

    @Test func patternEntriesKeepTheirRepository() throws {
        let list = ImageList.parse(text: "gromacs/gromacs:*\nghcr.io/a/b:v2.[0-9]*\ncmssw/cms:rhel?-m*\n", source: "p.txt")
        #expect(list.issues.isEmpty)
        #expect(list.entries.map(\.isPattern) == [true, true, true])
        #expect(list.entries.map(\.normalized) == ["docker.io/gromacs/gromacs:*", "ghcr.io/a/b:v2.[0-9]*", "docker.io/cmssw/cms:rhel?-m*"])
        #expect(list.entries.map { $0.pattern?.text } == ["*", "v2.[0-9]*", "rhel?-m*"])
        #expect(list.patternCount == 3)
    }

    /// The repository's own example list is valid and shows each feature once.
    @Test func theExampleListIsValid() async throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("images.txt").path
        let list = try await ImageList.load(path, client: nil)
        #expect(list.issues.isEmpty, "\(list.issues)")
        #expect(list.entries.count == 17)
        #expect(list.patternCount == 1)
        #expect(list.entries.contains { $0.reference.digest != nil })
        #expect(list.entries.contains { $0.platform == "linux/arm64/v8" })
        #expect(Set(list.entries.map(\.reference.registry)).count >= 3)
        let (images, issues) = await ImageList.expand(list, keepRegistry: false) { _, _ in ["2024.1", "2024.2", "2023.5"] }
        #expect(issues.isEmpty, "\(issues)")
        #expect(images.count == 18)
    }

    /// The whole OSG list parses; spot checks compare with what the lines say.
    @Test func parsesTheWholeOSGList() throws {
        let text = try osgListText()
        let list = ImageList.parse(text: text, source: "osg-docker_images.txt")
        #expect(list.lineCount == 746)
        #expect(list.entries.count == 562)
        #expect(list.issues.isEmpty, "\(list.issues.prefix(5))")
        #expect(list.patternCount == 113)

        let debian = try entry(list, line: 4)
        #expect(debian.text == "debian:latest")
        #expect(debian.reference.description == "docker.io/library/debian:latest")
        #expect(try debian.reference.publishedName().description == "library/debian:latest")

        let gromacs = try entry(list, line: 19)
        #expect(gromacs.isPattern)
        #expect(gromacs.normalized == "docker.io/gromacs/gromacs:*")

        let anaconda = try entry(list, line: 18)
        #expect(anaconda.reference.description == "docker.io/continuumio/anaconda:latest")

        let htc = try entry(list, line: 46)
        #expect(htc.reference.registry == "hub.opensciencegrid.org")
        #expect(try htc.reference.publishedName().description == "htc/rocky:9")

        let triton = try entry(list, line: 484)
        #expect(triton.reference.registry == "ghcr.io")
        #expect(triton.reference.repository == "ml4gw/hermes/tritonserver")
        #expect(try triton.reference.publishedName(keepRegistry: true).description == "ghcr.io/ml4gw/hermes/tritonserver:22.02")

        let pseob = try entry(list, line: 466)
        #expect(pseob.reference.repository == "aei-tgr/cvmfs-images/pseob")
        #expect(pseob.reference.tag == "envs")

        let pycbc = try entry(list, line: 275)
        #expect(pycbc.normalized == "docker.io/pycbc/pycbc-el8:v2.11.*")
        let eic = try entry(list, line: 732)
        #expect(eic.pattern?.matches("25.11.2-stable") == true)
        #expect(eic.pattern?.matches("nightly") == false)
        #expect(try entry(list, line: 183).reference.registry == "docker.opencarp.org")
        #expect(list.entries.allSatisfy { $0.platform == nil })
    }
}

/// A fake tag lister that counts its calls.
final class FakeLister: Sendable {
    let tags: [String: [String]]
    let failing: Set<String>
    let calls = Mutex<[String]>([])

    init(_ tags: [String: [String]], failing: Set<String> = []) {
        self.tags = tags
        self.failing = failing
    }

    var lister: TagLister {
        { registry, repository in
            let key = "\(registry)/\(repository)"
            self.calls.withLock { $0.append(key) }
            if self.failing.contains(key) { throw ImgsyncError(.notFound, "repository not found: \(key) (NAME_UNKNOWN)") }
            return self.tags[key] ?? []
        }
    }
}

@Suite("Image list expansion and names")
struct ImageListExpansionTests {
    @Test func expandsPatternsSortedAndListsEachRepositoryOnce() async throws {
        let text = "pycbc/pycbc-el8:v2.3.*\ndebian:12\npycbc/pycbc-el8:v2.1[01]*\nghcr.io/x/y:none*\n"
        let list = ImageList.parse(text: text, source: "e.txt")
        let fake = FakeLister([
            "docker.io/pycbc/pycbc-el8": ["v2.3.1", "v2.10.0", "v2.3.0", "latest", "v2.11.2", "v2.3.10", "v2.2.0"],
            "ghcr.io/x/y": ["a", "b"],
        ])
        let (images, issues) = await ImageList.expand(list, keepRegistry: false, lister: fake.lister)
        #expect(images.map(\.name.description) == [
            "pycbc/pycbc-el8:v2.3.0", "pycbc/pycbc-el8:v2.3.1", "pycbc/pycbc-el8:v2.3.10",
            "library/debian:12",
            "pycbc/pycbc-el8:v2.10.0", "pycbc/pycbc-el8:v2.11.2",
        ])
        #expect(images.map(\.line) == [1, 1, 1, 2, 3, 3])
        #expect(images[0].reference.description == "docker.io/pycbc/pycbc-el8:v2.3.0")
        #expect(images[0].pattern?.text == "v2.3.*")
        #expect(images[3].pattern == nil)
        #expect(issues.map(\.description) == ["e.txt:4: tag pattern \"none*\" matches none of the 2 tags of ghcr.io/x/y"])
        #expect(issues.first?.failedEntry == nil)
        #expect(fake.calls.withLock { $0.sorted() } == ["docker.io/pycbc/pycbc-el8", "ghcr.io/x/y"])
    }

    @Test func aListerFailureOnlyAffectsItsLines() async throws {
        let text = "a/b:*\nc/d:1.*\ndebian:12\n"
        let fake = FakeLister(["docker.io/c/d": ["1.0", "2.0", "bad tag!"]], failing: ["docker.io/a/b"])
        let (images, issues) = await ImageList.expand(ImageList.parse(text: text, source: "f.txt"), keepRegistry: false, lister: fake.lister)
        #expect(images.map(\.name.description) == ["c/d:1.0", "library/debian:12"])
        #expect(issues.count == 1)
        #expect(issues.first?.line == 1)
        #expect(issues.first?.message.contains("cannot list the tags of docker.io/a/b to expand \"*\": repository not found") == true)
        #expect(issues.first?.failedEntry?.normalized == "docker.io/a/b:*")
    }


    /// Issue 10 item 0: the optimised build read garbage from the task group's child results
    /// (docs/compiler-bugs.md). Many repositories listed concurrently, some failing, many times:
    /// every pattern expands and every failure is reported, in every build configuration.
    @Test func concurrentListingsKeepEveryResult() async throws {
        var text = ""
        var tags: [String: [String]] = [:]
        var failing: Set<String> = []
        for i in 0..<24 {
            text += "127.0.0.1:5000/osg/app\(i):1.*\n"
            if i % 5 == 3 { failing.insert("127.0.0.1:5000/osg/app\(i)") } else { tags["127.0.0.1:5000/osg/app\(i)"] = ["1.1", "1.0", "2.0"] }
        }
        let list = ImageList.parse(text: text, source: "c.txt")
        for _ in 0..<40 {
            let fake = FakeLister(tags, failing: failing)
            let (images, issues) = await ImageList.expand(list, keepRegistry: false, concurrency: 8, lister: fake.lister)
            #expect(images.count == 2 * (24 - failing.count))
            #expect(issues.count == failing.count)
            #expect(issues.allSatisfy { $0.failedEntry != nil && $0.message.contains("cannot list the tags") })
        }
    }
    @Test func collisionsNameBothLinesAndTheFirstKeepsTheName() async throws {
        let digest = "sha256:" + String(repeating: "cd", count: 32)
        let text = """
            hub.opensciencegrid.org/htc/rocky:9
            # same path on Docker Hub
            htc/rocky:9
            debian:12@\(digest)
            debian@\(digest)
            ubuntu:24.04
            ubuntu:2* --platform linux/arm64
            alpine:*
            alpine:3.20
            """
        let list = ImageList.parse(text: text, source: "c.txt")
        #expect(list.issues.isEmpty)
        let fake = FakeLister(["docker.io/library/ubuntu": ["24.04", "22.04"], "docker.io/library/alpine": ["3.20", "3.19"]])
        let (images, issues) = await ImageList.expand(list, keepRegistry: false, lister: fake.lister)
        #expect(issues.map(\.line) == [3, 5, 7])
        #expect(issues[0].description == "c.txt:3: docker.io/htc/rocky:9 would publish as htc/rocky:9, which line 1 (hub.opensciencegrid.org/htc/rocky:9) already publishes; this image is skipped")
        #expect(issues[1].message.contains("would publish as library/debian@\(digest), which line 4"))
        #expect(issues[2].message.contains("docker.io/library/ubuntu:24.04 (from \"ubuntu:2*\") would publish as library/ubuntu:24.04 with platform linux/arm64/v8 instead of default, which line 6"))
        #expect(images.map(\.name.description) == [
            "htc/rocky:9", "library/debian@\(digest)", "library/ubuntu:24.04", "library/ubuntu:22.04",
            "library/alpine:3.19", "library/alpine:3.20",
        ])
        #expect(images.first?.reference.registry == "hub.opensciencegrid.org")
        // alpine:3.20 is both a glob match and an explicit line: one image, no issue.
        #expect(images.filter { $0.name.description == "library/alpine:3.20" }.map(\.line) == [8])

        // Keeping the registry separates the two rocky lines; the others still collide.
        let (kept, keptIssues) = await ImageList.expand(list, keepRegistry: true, lister: fake.lister)
        #expect(keptIssues.map(\.line) == [5, 7])
        #expect(kept.prefix(2).map(\.name.description) == ["hub.opensciencegrid.org/htc/rocky:9", "docker.io/htc/rocky:9"])
    }

    @Test func theWholeOSGListExpandsWithoutCollisions() async throws {
        let list = ImageList.parse(text: try osgListText(), source: "osg")
        let fake = FakeLister([:])
        let patternRepositories = Set(list.entries.filter(\.isPattern).map(\.reference.name))
        let tagged = FakeLister(Dictionary(uniqueKeysWithValues: patternRepositories.map {
            ($0, ["latest", "v1", "v2.3.4", "v2.11.0", "rhel7-m1", "osg1", "x-stable"])
        }))
        let (none, noneIssues) = await ImageList.expand(list, keepRegistry: false, lister: fake.lister)
        #expect(none.count == 562 - 113)
        #expect(noneIssues.count == 113)
        #expect(noneIssues.allSatisfy { $0.message.contains("matches none of the 0 tags") })
        let (images, issues) = await ImageList.expand(list, keepRegistry: false, lister: tagged.lister)
        #expect(!issues.contains { $0.message.contains("would publish as") }, "\(issues.prefix(3))")
        #expect(Set(images.map(\.name)).count == images.count)
        #expect(images.count > 562 - 113)
        // 113 patterns over fewer repositories (pycbc-el8 and cms have three each): each listed once.
        let repositories = Set(list.entries.filter(\.isPattern).map { $0.reference.name })
        #expect(tagged.calls.withLock { $0.count } == repositories.count)
        #expect(repositories.count < 113)
    }
}

@Suite("Tag patterns")
struct TagPatternTests {
    @Test(arguments: [
        ("*", "anything-1.0", true),
        ("*", "", true),
        ("v2.3.*", "v2.3.10", true),
        ("v2.3.*", "v2.30", false),
        ("rhel[67]-m*", "rhel7-m1", true),
        ("rhel[67]-m*", "rhel8-m1", false),
        ("[!a-c]*", "dev", true),
        ("[!a-c]*", "beta", false),
        ("[^a-c]*", "beta", false),
        ("?.?", "1.2", true),
        ("?.?", "1.22", false),
        ("*-stable", "25.11.2-stable", true),
        ("*-stable", "25.11.2-stable-rc", false),
        ("a*b*c", "aXbYbZc", true),
        ("a*b*c", "aXbYbZ", false),
        ("[-_]x", "_x", true),
        ("[-_]x", "ax", false),
        ("[0-9][0-9].*", "22.04", true),
        ("[0-9][0-9].*", "2.04", false),
        ("latest", "latest", true),
        ("V*", "v1", false),
    ])
    func matches(_ pattern: String, _ tag: String, _ expected: Bool) throws {
        #expect(try TagPattern(pattern).matches(tag) == expected)
    }

    @Test(arguments: [
        ("v[12", "no closing"),
        ("a/b*", "\"/\" is neither a tag character"),
        ("[z-a]*", "runs backwards"),
        ("[a/]*", "may only hold tag characters"),
        ("", "it is empty"),
    ])
    func rejects(_ pattern: String, _ fragment: String) {
        #expect {
            try TagPattern(pattern)
        } throws: { error in
            guard let error = error as? ImgsyncError, error.code == .invalidTag else { return false }
            return error.message.contains(fragment) && error.message.contains("\"\(pattern)\"")
        }
    }

    @Test func filterSortsAndDeduplicates() throws {
        #expect(try TagPattern("1.*").filter(["1.10", "1.2", "2.0", "1.2", "1.1"]) == ["1.1", "1.10", "1.2"])
        #expect(TagPattern.isPattern("v1.*") && TagPattern.isPattern("a?") && TagPattern.isPattern("[ab]"))
        #expect(!TagPattern.isPattern("v1.0-rc_1"))
    }
}
