import Foundation
import Testing
@testable import ImgsyncCore
@testable import ImgsyncRepository

@Suite("Repository state")
struct RepositoryStateTests {
    func tempRoot() throws -> String {
        let p = FileManager.default.temporaryDirectory.path + "/imgsync-state-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    @Test func stateRoundTripsThroughDisk() throws {
        let root = try tempRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let repo = try Repository(root: root)
        #expect(try repo.readState() == RepositoryState())
        var state = RepositoryState()
        let d = Digest(sha256: Array(repeating: 7, count: 32))
        let when = Date(timeIntervalSince1970: 1_700_000_000)
        state.names["library/debian:12"] = NameRecord(name: "library/debian:12", reference: "docker.io/library/debian:12",
                                                      digest: d, manifestDigest: d, manifestMediaType: "application/vnd.oci.image.manifest.v1+json",
                                                      imageID: d, platform: "linux/amd64", published: when, checked: when)
        state.unreferencedSince[d.hex] = when
        state.listEntries = 3
        try repo.writeState(state)
        #expect(try repo.readState() == state)
    }

    /// The process keeps the last decoded state (a partial sync reads it several times), but any
    /// change of the file's bytes, by this process or another, is read: never a stale state.
    @Test func aChangedStateFileIsReadAgain() throws {
        let root = try tempRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let repo = try Repository(root: root)
        var state = RepositoryState()
        state.listEntries = 3
        try repo.writeState(state)
        #expect(try repo.readState().listEntries == 3)
        #expect(try Repository.readState(root: root)?.listEntries == 3)
        // Another writer, same size, other bytes.
        let path = root + "/.imgsync/state.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let edited = text.replacingOccurrences(of: "\"listEntries\" : 3", with: "\"listEntries\" : 4")
        #expect(edited != text && edited.utf8.count == text.utf8.count)
        try edited.write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try repo.readState().listEntries == 4)
        state.listEntries = 5
        try repo.writeState(state)
        #expect(try Repository.readState(root: root)?.listEntries == 5)
        try FileManager.default.removeItem(atPath: path)
        #expect(try repo.readState() == RepositoryState())
        #expect(try Repository.readState(root: root) == nil)
    }

    @Test func corruptStateIsAnErrorNotAnEmptyState() throws {
        let root = try tempRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let repo = try Repository(root: root)
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: repo.statePath))
        #expect(throws: ImgsyncError.self) { try repo.readState() }
    }
}
