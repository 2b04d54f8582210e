import Foundation
import ImgsyncCore
import ImgsyncRegistry
import ImgsyncRepository
import ImgsyncSync
import Testing

/// `SyncTarget.leavingOthersAlone`: a partial sync never moves a name another line may own.
@Suite struct SyncTargetPartialTests {
    let digest = try! Digest(parsing: "sha256:" + String(repeating: "a", count: 64))

    func target(_ reference: String, platform: String = "linux/amd64") throws -> SyncTarget {
        let ref = try ImageReference(parsing: reference)
        return SyncTarget(name: try ref.publishedName(keepRegistry: false), reference: ref, platform: try Platform(parsing: platform),
                          origin: "images.txt:2")
    }

    func state(_ reference: String, platform: String = "linux/amd64") throws -> RepositoryState {
        let ref = try ImageReference(parsing: reference)
        var state = RepositoryState()
        let name = try ref.publishedName(keepRegistry: false).description
        state.names[name] = NameRecord(name: name, reference: ref.description, digest: digest, manifestDigest: digest,
                                       manifestMediaType: "application/vnd.oci.image.manifest.v1+json", imageID: digest,
                                       platform: platform, published: Date(), checked: Date())
        return state
    }

    @Test func aNamePublishedFromTheSameReferenceIsSynced() throws {
        let (kept, issues) = SyncTarget.leavingOthersAlone([try target("r1.example/org/app:1")], state: try state("r1.example/org/app:1"))
        #expect(kept.count == 1)
        #expect(issues.isEmpty)
    }

    @Test func aNewNameIsSynced() throws {
        let (kept, _) = SyncTarget.leavingOthersAlone([try target("r1.example/org/app:2")], state: try state("r1.example/org/app:1"))
        #expect(kept.count == 1)
    }

    @Test func aNamePublishedFromAnotherRegistryIsLeftAlone() throws {
        let (kept, issues) = SyncTarget.leavingOthersAlone([try target("r2.example/org/app:1")], state: try state("r1.example/org/app:1"))
        #expect(kept.isEmpty)
        #expect(issues == ["images.txt:2: org/app:1 is published from r1.example/org/app:1 (linux/amd64); left to the next full sync"])
    }

    @Test func aNamePublishedForAnotherPlatformIsLeftAlone() throws {
        let (kept, _) = SyncTarget.leavingOthersAlone([try target("r1.example/org/app:1", platform: "linux/arm64")],
                                                      state: try state("r1.example/org/app:1"))
        #expect(kept.isEmpty)
    }
}
