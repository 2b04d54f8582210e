import Foundation
import ImgsyncCore
import Testing
@testable import ImgsyncSync

/// Lines of `bytes` split on `\n` the simple way (independent of the code under test); joining them
/// with `\n` gives the bytes back.
func rawLines(_ bytes: [UInt8]) -> [[UInt8]] {
    bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
}

func joined(_ lines: [[UInt8]]) -> [UInt8] {
    Array(lines.joined(separator: [0x0A]))
}

/// Expects `body` to throw an `ImageListEditError` of `kind` whose message contains `fragment`.
func expectEditError(
    _ kind: ImageListEditError.Kind, _ fragment: String,
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("no error; expected \(kind) containing \"\(fragment)\"", sourceLocation: sourceLocation)
    } catch let error as ImageListEditError {
        #expect(error.kind == kind, "\(error.message)", sourceLocation: sourceLocation)
        #expect(error.message.contains(fragment), "\(error.message)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("Image list editing")
struct ImageListEditTests {
    func osgDocument() throws -> (ImageListDocument, [[UInt8]]) {
        let bytes = Array(try osgListText().utf8)
        return (ImageListDocument(bytes: bytes, source: "osg.txt"), rawLines(bytes))
    }

    @Test func insertGoesAfterTheSameRepositoryThenOrganisationThenTheEnd() throws {
        let (original, lines) = try osgDocument()

        var doc = original
        let rocky = try doc.insert("hub.opensciencegrid.org/htc/rocky:10")
        #expect(rocky.line == 49)  // after line 48, the last htc/rocky line
        #expect(doc.bytes == joined(Array(lines[..<48]) + [Array("hub.opensciencegrid.org/htc/rocky:10".utf8)] + Array(lines[48...])))

        doc = original
        let ml4gw = try doc.insert("ghcr.io/ml4gw/newthing:1", platform: "linux/arm64")
        #expect(ml4gw.line == 490)  // after line 489, the last ghcr.io/ml4gw line
        #expect(ml4gw.platform == "linux/arm64/v8")
        #expect(doc.bytes == joined(Array(lines[..<489]) + [Array("ghcr.io/ml4gw/newthing:1 --platform linux/arm64".utf8)] + Array(lines[489...])))

        doc = original
        let quay = try doc.insert("quay.io/brand/new:1")
        #expect(quay.line == 747)
        #expect(doc.bytes == original.bytes + Array("quay.io/brand/new:1\n".utf8))
        #expect(doc.list.entries.count == 563)
        #expect(doc.list.issues.isEmpty)

        // A glob is an entry like any other.
        doc = original
        let glob = try doc.insert("hub.opensciencegrid.org/htc/gromacs:2025.*")
        #expect(glob.line == 42)
        #expect(glob.isPattern)
    }

    @Test func insertRefusesDuplicatesAndCollisions() throws {
        let (original, _) = try osgDocument()
        var doc = original
        expectEditError(.duplicate, "docker.io/library/debian:latest is already listed at osg.txt:4 (debian:latest)") {
            try doc.insert("debian")
        }
        expectEditError(.duplicate, "osg.txt:19 (gromacs/gromacs:*)") {
            try doc.insert("docker.io/gromacs/gromacs:*", platform: "linux/arm64")
        }
        expectEditError(.collision, "would publish as htc/rocky:9, which osg.txt:46 (hub.opensciencegrid.org/htc/rocky:9)") {
            try doc.insert("htc/rocky:9")
        }
        expectEditError(.invalidEntry, "must be lowercase") { try doc.insert("Upper/case:1") }
        expectEditError(.invalidEntry, "without spaces") { try doc.insert("a b") }
        expectEditError(.invalidEntry, "invalid platform") { try doc.insert("alpine:3", platform: "linux") }
        #expect(doc.bytes == original.bytes)
        // With the registry in the name there is no collision.
        let kept = try doc.insert("htc/rocky:9", keepRegistry: true)
        #expect(kept.line == 747)
    }

    @Test func removeMatchesTheNormalisedFormAndKeepsEverythingElse() throws {
        let (original, lines) = try osgDocument()
        var doc = original
        let removed = try doc.remove("docker.io/library/debian:latest")
        #expect(removed.map(\.line) == [4])
        #expect(doc.bytes == joined(Array(lines[..<3]) + Array(lines[4...])))
        expectEditError(.notListed, "line 4 (debian:stable)") { try doc.remove("debian") }

        doc = original
        #expect(try doc.remove("gromacs/gromacs:*").map(\.line) == [19])
        #expect(doc.bytes == joined(Array(lines[..<18]) + Array(lines[19...])))
        expectEditError(.notListed, "docker.io/gromacs/gromacs:2023 is not listed in osg.txt") { try doc.remove("gromacs/gromacs:2023") }

        // Insert then remove gives back every byte.
        doc = original
        try doc.insert("hub.opensciencegrid.org/htc/rocky:10")
        try doc.remove("hub.opensciencegrid.org/htc/rocky:10")
        #expect(doc.bytes == original.bytes)
    }

    @Test func crlfMissingFinalNewlineAndInvalidUTF8Survive() throws {
        let start: [UInt8] = Array("# caf".utf8) + [0xFF] + Array("\r\ndebian:12\r\nubuntu:22.04".utf8)
        var doc = ImageListDocument(bytes: start, source: "crlf.txt")
        #expect(try doc.insert("debian:13").line == 3)
        #expect(doc.bytes == Array("# caf".utf8) + [0xFF] + Array("\r\ndebian:12\r\ndebian:13\r\nubuntu:22.04".utf8))
        #expect(try doc.insert("quay.io/a/b:1").line == 5)
        #expect(doc.bytes == Array("# caf".utf8) + [0xFF] + Array("\r\ndebian:12\r\ndebian:13\r\nubuntu:22.04\r\nquay.io/a/b:1\r\n".utf8))
        try doc.remove("ubuntu:22.04")
        try doc.remove("debian:13")
        #expect(doc.bytes == Array("# caf".utf8) + [0xFF] + Array("\r\ndebian:12\r\nquay.io/a/b:1\r\n".utf8))
        #expect(doc.list.entries.map(\.normalized) == ["docker.io/library/debian:12", "quay.io/a/b:1"])

        var empty = ImageListDocument(bytes: [], source: "empty.txt")
        #expect(try empty.insert("debian:12").line == 1)
        #expect(empty.bytes == Array("debian:12\n".utf8))
    }

    @Test func removeTakesEveryRepeatOfAReference() throws {
        var doc = ImageListDocument(bytes: Array("a/a:1\n# keep me\nb/b:1\na/a:1 --platform linux/arm64 # second\n".utf8), source: "r.txt")
        #expect(doc.list.issues.map(\.line) == [4])
        #expect(try doc.remove("docker.io/a/a:1").map(\.line) == [1, 4])
        #expect(doc.bytes == Array("# keep me\nb/b:1\n".utf8))
    }
}

@Suite("Image list files")
struct ImageListFileTests {
    func withDirectory(_ body: (String) async throws -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.path + "/imgsync-list-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await body(dir)
    }

    @Test func replaceKeepsModeAndSymlinkAndLeavesNoTemporaryFile() async throws {
        try await withDirectory { dir in
            let real = dir + "/real.txt"
            try Data("debian:12\n".utf8).write(to: URL(fileURLWithPath: real))
            try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: real)
            try FileManager.default.createSymbolicLink(atPath: dir + "/images.txt", withDestinationPath: "real.txt")

            var doc = try ImageListDocument.read(dir + "/images.txt")
            try doc.insert("debian:13")
            try doc.write(to: dir + "/images.txt")

            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/images.txt") == "real.txt")
            #expect(try String(contentsOfFile: real, encoding: .utf8) == "debian:12\ndebian:13\n")
            let mode = try FileManager.default.attributesOfItem(atPath: real)[.posixPermissions] as? Int
            #expect(mode == 0o640)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["images.txt", "real.txt"])
        }
    }

    @Test func loadReadsFilesAndRefusesWhatCannotBeAList() async throws {
        try await withDirectory { dir in
            try Data("debian:12\nBAD\n".utf8).write(to: URL(fileURLWithPath: dir + "/ok.txt"))
            let list = try await ImageList.load(dir + "/ok.txt", client: nil)
            #expect(list.source == dir + "/ok.txt")
            #expect(list.entries.map(\.normalized) == ["docker.io/library/debian:12"])
            #expect(list.issues.map(\.line) == [2])
            #expect(list.issues.first?.description.hasPrefix("\(dir)/ok.txt:2: invalid image reference \"BAD\"") == true)
            #expect(list.issues.first?.message.contains("must be lowercase") == true)

            try Data([0x61, 0x0A, 0x62, 0x00, 0x0A]).write(to: URL(fileURLWithPath: dir + "/binary"))
            let cases: [(String, String)] = [
                (dir + "/missing.txt", "no such file"),
                (dir, "it is a directory"),
                (dir + "/binary", "not a text file (NUL byte on line 2)"),
                ("http://example.org/images.txt", "plain http is not accepted"),
            ]
            for (location, reason) in cases {
                await #expect {
                    try await ImageList.load(location, client: nil)
                } throws: { error in
                    guard let error = error as? ImageListUnreadable else { return false }
                    return error.location == location && error.reason.contains(reason)
                        && error.description.hasPrefix("cannot read the image list \(location): ")
                }
            }
        }
    }
}
