import Foundation
import ImgsyncCore
import ImgsyncRegistry
import ImgsyncRepository
import Testing
@testable import ImgsyncSync

/// Multi-platform list lines (issue 11 part 2): the `--platform` syntax, the platform names and the
/// targets a line makes.
@Suite struct MultiPlatformListTests {
    @Test func commaListIsNormalisedInOrder() throws {
        let list = ImageList.parse(text: """
            org/a:1 --platform linux/amd64,linux/aarch64
            org/b:1 --platform=linux/arm64/v8,linux/amd64
            org/c:1 --platform all
            org/d:1 --platform any
            org/e:1 --platform linux/arm64
            """, source: "m.txt")
        #expect(list.issues.isEmpty, "\(list.issues)")
        #expect(list.entries.map(\.platform) == ["linux/amd64,linux/arm64/v8", "linux/arm64/v8,linux/amd64", "all", "any", "linux/arm64/v8"])
        #expect(try PlatformRequest(list.entries[0].platform, default: .linuxAMD64)
            == .several([.linuxAMD64, Platform(os: "linux", architecture: "arm64")]))
        #expect(try PlatformRequest(list.entries[2].platform, default: .linuxAMD64) == .all)
        #expect(try PlatformRequest(list.entries[3].platform, default: .linuxAMD64) == .one(.linuxAMD64, acceptAny: true))
        #expect(try PlatformRequest(nil, default: .linuxAMD64) == .one(.linuxAMD64, acceptAny: false))
        #expect(try PlatformRequest(list.entries[4].platform, default: .linuxAMD64) == .one(Platform(os: "linux", architecture: "arm64"), acceptAny: false))
    }

    @Test func badPlatformListsNameFileAndLine() throws {
        let list = ImageList.parse(text: """
            org/a:1 --platform linux/amd64,linux/amd64
            org/b:1 --platform linux/arm64,linux/arm64/v8
            org/c:1 --platform all,linux/amd64
            org/d:1 --platform linux/amd64,any
            org/e:1 --platform linux/amd64,
            org/f:1 --platform linux/amd64,linux/arm64
            """, source: "bad.txt")
        #expect(list.entries.map(\.line) == [6])
        let byLine = Dictionary(list.issues.map { ($0.line, $0.description) }, uniquingKeysWith: { a, _ in a })
        let expected: [Int: String] = [
            1: "bad.txt:1: platform linux/amd64 is given twice",
            2: "bad.txt:2: platform linux/arm64/v8 is given twice",
            3: "bad.txt:3: --platform all cannot be combined with other platforms",
            4: "bad.txt:4: --platform any cannot be combined with other platforms",
            5: "bad.txt:5: invalid platform \"\"",
        ]
        #expect(byLine.count == expected.count, "\(list.issues)")
        for (line, prefix) in expected {
            let message = try #require(byLine[line])
            #expect(message.hasPrefix(prefix), "\(message)")
        }
    }

    @Test func platformNamesAreSiblingsThatNoOtherNameCanBe() throws {
        let arm = Platform(os: "linux", architecture: "arm64")
        #expect(arm.pathSuffix == "linux-arm64-v8")
        #expect(Platform.linuxAMD64.pathSuffix == "linux-amd64")
        #expect(Platform(os: "linux", architecture: "x-y").pathSuffix == nil, "a - inside a part would be ambiguous")
        #expect(Platform(os: "linux", architecture: "amd64", variant: "v3").pathSuffix == "linux-amd64-v3")

        let plain = try PublishedName("org/image:1.0")
        let sibling = try plain.platformName(try #require(arm.pathSuffix))
        #expect(sibling.description == "org/image:1.0@linux-arm64-v8")
        #expect(sibling.platformOf?.name == "org/image:1.0" && sibling.platformOf?.suffix == "linux-arm64-v8")
        let pinned = try PublishedName("org/image@sha256:" + String(repeating: "a", count: 64))
        #expect(try pinned.platformName("linux-amd64").platformOf?.name == pinned.description)
        let kept = try PublishedName("127.0.0.1:5000/org/image:1")
        #expect(try kept.platformName("linux-amd64").platformOf?.name == kept.description)
        #expect(throws: ImgsyncError.self) { try plain.platformName("Linux-AMD64") }
        #expect(throws: ImgsyncError.self) { try plain.platformName("linux:amd64") }

        // No name a reference publishes as is a platform name: tags and repositories hold no `@`,
        // and a digest's `@` is followed by a `:`.
        for text in ["org/image:1.0", "library/debian:latest", "org/image@sha256:" + String(repeating: "b", count: 64),
                     "127.0.0.1:5000/org/image:v1.2-3_4", "docker.io/library/debian@sha256:" + String(repeating: "c", count: 64)] {
            let reference = try ImageReference(parsing: text)
            for keep in [false, true] {
                let name = try reference.publishedName(keepRegistry: keep)
                #expect(name.platformOf == nil, "\(name)")
            }
        }
    }

    static func index(_ entries: [(platform: String, annotations: [String: String])]) throws -> ImageIndex {
        let items = entries.enumerated().map { i, e -> String in
            let parts = e.platform.split(separator: "/").map(String.init)
            let variant = parts.count > 2 ? #","variant":"\#(parts[2])""# : ""
            let annotations = e.annotations.isEmpty ? ""
                : #","annotations":"# + String(decoding: try! JSONSerialization.data(withJSONObject: e.annotations), as: UTF8.self)
            let digest = "sha256:" + String(repeating: String(i % 10), count: 64)
            return #"{"mediaType":"\#(MediaType.ociManifest)","digest":"\#(digest)","size":1,"platform":{"os":"\#(parts[0])","architecture":"\#(parts[1])"\#(variant)}\#(annotations)}"#
        }
        return try JSONDecoder().decode(ImageIndex.self, from: Data(#"{"schemaVersion":2,"manifests":[\#(items.joined(separator: ","))]}"#.utf8))
    }

    @Test func everyPlatformOfAnIndexLeavesAttestationsOut() throws {
        let attestation = ["vnd.docker.reference.type": "attestation-manifest"]
        let idx = try Self.index([("linux/arm64/v8", [:]), ("unknown/unknown", attestation), ("linux/amd64", [:]),
                                  ("unknown/unknown", attestation), ("linux/arm64", [:]), ("unknown/unknown", [:]), ("linux/s390x", [:])])
        #expect(PlatformSelector.platforms(in: idx).map(\.description) == ["linux/arm64/v8", "linux/amd64", "linux/s390x"])
    }

    @Test func aMultiPlatformLineMakesThePlainNameAndOneNamePerPlatform() throws {
        let image = ListedImage(name: try PublishedName("org/a:1"), reference: try ImageReference(parsing: "org/a:1"),
                                platform: "linux/arm64/v8,linux/amd64,linux/x-y", line: 3, pattern: nil)
        var issues: [String] = []
        let arm = Platform(os: "linux", architecture: "arm64")
        let targets = SyncTarget.platformTargets(image, [arm, .linuxAMD64, Platform(os: "linux", architecture: "x-y")], plain: arm,
                                                 origin: "l.txt:3") { issues.append($0) }
        #expect(targets.map(\.name.description) == ["org/a:1", "org/a:1@linux-arm64-v8", "org/a:1@linux-amd64"])
        #expect(targets.map(\.platform) == [arm, arm, .linuxAMD64])
        #expect(targets.allSatisfy { !$0.acceptAnyPlatform && $0.origin == "l.txt:3" })
        #expect(issues.count == 1 && issues[0].contains("platform linux/x-y of docker.io/org/a:1 cannot be published"), "\(issues)")
    }
}
