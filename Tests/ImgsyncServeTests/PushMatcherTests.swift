import ImgsyncServe
import ImgsyncSync
import Testing

@Suite struct PushMatcherTests {
    let list = ImageList.parse(text: """
    r.example/org/app:1.0
    r.example/org/app:v2.*
    r.example/org/tool@sha256:\(String(repeating: "e", count: 64))
    other.example:5000/org/app:1.0
    debian:12
    """, source: "images.txt")

    func push(_ host: String, _ repository: String, tag: String? = nil, digest: String? = nil) throws -> RegistryPush {
        try RegistryPush(host: host, repository: repository, tag: tag, digest: digest)
    }

    @Test func exactTagMatchesOnlyItsRegistry() throws {
        #expect(list.lines(updatedBy: [try push("r.example", "org/app", tag: "1.0")]) == [1])
        #expect(list.lines(updatedBy: [try push("other.example:5000", "org/app", tag: "1.0")]) == [4])
        #expect(list.lines(updatedBy: [try push("third.example", "org/app", tag: "1.0")]).isEmpty)
    }

    @Test func patternMatchesItsTagsOnly() throws {
        #expect(list.lines(updatedBy: [try push("r.example", "org/app", tag: "v2.7")]) == [2])
        #expect(list.lines(updatedBy: [try push("r.example", "org/app", tag: "v3.0")]).isEmpty)
        #expect(list.lines(updatedBy: [try push("r.example", "org/app", digest: "sha256:" + String(repeating: "1", count: 64))]).isEmpty)
    }

    @Test func digestEntryMatchesItsDigest() throws {
        let digest = "sha256:" + String(repeating: "e", count: 64)
        #expect(list.lines(updatedBy: [try push("r.example", "org/tool", tag: "x", digest: digest)]) == [3])
        #expect(list.lines(updatedBy: [try push("r.example", "org/tool", tag: "x")]).isEmpty)
    }

    @Test func dockerHubHostsAreOneRegistry() throws {
        #expect(list.lines(updatedBy: [try push("registry-1.docker.io", "library/debian", tag: "12")]) == [5])
        #expect(list.lines(updatedBy: [try push("docker.io", "library/debian", tag: "13")]).isEmpty)
    }

    @Test func unlistedRepositoryMatchesNothing() throws {
        #expect(list.lines(updatedBy: [try push("r.example", "org/unlisted", tag: "1.0")]).isEmpty)
    }

    @Test func onlyKeepsTheSelectedLines() {
        let part = list.only(lines: [2, 4])
        #expect(part.entries.map(\.line) == [2, 4])
        #expect(part.source == list.source)
    }
}
