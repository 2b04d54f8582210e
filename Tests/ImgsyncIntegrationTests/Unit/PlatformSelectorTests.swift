import Foundation
import ImgsyncCore
import Testing
@testable import ImgsyncRegistry

@Suite struct PlatformSelectorTests {
    static func digest(_ c: Character) -> String { "sha256:" + String(repeating: c, count: 64) }

    static func index(_ entries: [(String, String, String?, Character, [String: String])]) throws -> ImageIndex {
        let items = entries.map { mediaType, os_arch, variant, c, annotations -> String in
            let parts = os_arch.split(separator: "/")
            let v = variant.map { ",\"variant\":\"\($0)\"" } ?? ""
            let ann = annotations.isEmpty ? "" : ",\"annotations\":" + String(decoding: try! JSONSerialization.data(withJSONObject: annotations), as: UTF8.self)
            return #"{"mediaType":"\#(mediaType)","digest":"\#(digest(c))","size":1,"platform":{"os":"\#(parts[0])","architecture":"\#(parts[1])"\#(v)}\#(ann)}"#
        }
        let json = #"{"schemaVersion":2,"manifests":[\#(items.joined(separator: ","))]}"#
        return try JSONDecoder().decode(ImageIndex.self, from: Data(json.utf8))
    }

    static let m = MediaType.ociManifest

    /// R20: amd64 chosen; attestation entries never chosen.
    @Test func amd64AndAttestations() throws {
        let idx = try Self.index([
            (Self.m, "unknown/unknown", nil, "c", ["vnd.docker.reference.type": "attestation-manifest"]),
            (Self.m, "linux/arm64", nil, "a", [:]),
            (Self.m, "linux/amd64", nil, "b", [:]),
        ])
        let c = PlatformSelector.candidates(in: idx, for: .linuxAMD64)
        #expect(c.map(\.digest.description) == [Self.digest("b")])
    }

    /// R21: arm64 ≡ arm64/v8; arm/v7 not chosen for arm64.
    @Test func arm64Variant() throws {
        let wanted = try Platform(parsing: "linux/arm64")
        let a = try Self.index([(Self.m, "linux/arm", "v7", "a", [:]), (Self.m, "linux/arm64", "v8", "b", [:])])
        #expect(PlatformSelector.candidates(in: a, for: wanted).map(\.digest.description) == [Self.digest("b")])
        let b = try Self.index([(Self.m, "linux/arm", "v7", "a", [:]), (Self.m, "linux/arm64", nil, "b", [:])])
        #expect(PlatformSelector.candidates(in: b, for: try Platform(parsing: "linux/arm64/v8")).map(\.digest.description) == [Self.digest("b")])
        let c = try Self.index([(Self.m, "linux/arm", "v7", "a", [:])])
        #expect(PlatformSelector.candidates(in: c, for: wanted).isEmpty)
        #expect(Platform(os: "linux", architecture: "aarch64") == wanted)
        #expect(Platform(os: "linux", architecture: "x86_64") == .linuxAMD64)
        #expect(Platform(os: "linux", architecture: "arm") == Platform(os: "linux", architecture: "arm", variant: "v7"))
    }

    /// R22: first match wins.
    @Test func firstMatch() throws {
        let idx = try Self.index([(Self.m, "linux/amd64", nil, "a", [:]), (Self.m, "linux/amd64", nil, "b", [:])])
        #expect(PlatformSelector.candidates(in: idx, for: .linuxAMD64).first?.digest.description == Self.digest("a"))
    }

    /// R23: no match → error naming the ref, the request and what is there.
    @Test func noMatch() throws {
        let idx = try Self.index([(Self.m, "linux/s390x", nil, "a", [:]), (Self.m, "linux/ppc64le", nil, "b", [:])])
        #expect(PlatformSelector.candidates(in: idx, for: .linuxAMD64).isEmpty)
        let error = PlatformSelector.noMatch("REG/lib/a:1", platform: .linuxAMD64, available: PlatformSelector.available(in: idx))
        #expect(error.code == .noMatchingPlatform)
        #expect(error.message == "REG/lib/a:1 has no image for linux/amd64; available: linux/s390x, linux/ppc64le")
    }

    /// R24: unknown media types skipped; nested indexes are candidates.
    @Test func unknownAndNested() throws {
        let idx = try Self.index([
            ("application/vnd.example+json", "linux/amd64", nil, "a", [:]),
            (MediaType.ociIndex, "linux/amd64", nil, "b", [:]),
            (Self.m, "linux/amd64", nil, "c", [:]),
        ])
        #expect(PlatformSelector.candidates(in: idx, for: .linuxAMD64).map(\.digest.description) == [Self.digest("b"), Self.digest("c")])
    }

    @Test func platformParsing() throws {
        #expect(try Platform(parsing: "linux/arm/v7").description == "linux/arm/v7")
        #expect(try Platform(parsing: "linux/amd64").description == "linux/amd64")
        #expect(try Platform(parsing: "linux/arm64").description == "linux/arm64/v8")
        #expect(throws: ImgsyncError.self) { try Platform(parsing: "linux") }
        #expect(throws: ImgsyncError.self) { try Platform(parsing: "linux/amd64/v1/x") }
        #expect(throws: ImgsyncError.self) { try Platform(parsing: "linux//v1") }
    }
}
