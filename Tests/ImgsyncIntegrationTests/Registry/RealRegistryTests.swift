import Foundation
import ImgsyncCore
import NIOCore
import Testing
@testable import ImgsyncRegistry

/// Against a real `docker-registry` (distribution v2.8) with TLS from a test CA, images pushed with
/// skopeo: R1, R2, R7–R9 (token auth), R14–R15, R20–R23, R29 (host:port), R45, R47–R48, R53, R55, R56.
@Suite(.timeLimit(.minutes(3))) struct RealRegistryTests {
    /// A registry with the standard images pushed as lib/a:1 (OCI, gzip + zstd), lib/v2:1 (Docker
    /// schema 2) and lib/multi:1 (index for linux/amd64 and linux/arm64/v8).
    func withPushedRegistry<R>(_ body: (FakeEnvironment, LocalRegistry, [String: LayoutImage]) async throws -> R) async throws -> R {
        try await withFakeEnvironment { env in
            let reg = try await env.registry()
            let (layout, images) = try await env.layout(standardImages)
            try await env.push(layout, tag: "single", to: "\(reg.name)/lib/a:1")
            try await env.push(layout, tag: "docker", to: "\(reg.name)/lib/v2:1", format: "v2s2")
            try await env.push(layout, tag: "multi", to: "\(reg.name)/lib/multi:1", all: true)
            return try await body(env, reg, images)
        }
    }

    /// Issue 9 (politeness): within one client (one run), what was fetched by digest is not
    /// fetched again. Resolving a tag a second time asks for the tag's manifest only; the index's
    /// chosen manifest and the config come from what the first resolve verified.
    @Test func aSecondResolveOfATagAsksForTheTagOnly() async throws {
        try await withPushedRegistry { env, reg, images in
            try await env.withClient { (client: RegistryClient) async throws in
                let ref = try ImageReference(parsing: "\(reg.name)/lib/multi:1")
                func gets() -> (manifests: Int, blobs: Int) {
                    let t = client.traffic[reg.name]
                    return (t?.count("GET manifest") ?? 0, t?.count("GET blob") ?? 0)
                }
                let first = try await client.resolve(ref)
                let afterFirst = gets()
                #expect(afterFirst == (2, 1), "index, the amd64 manifest, its config: \(afterFirst)")
                let second = try await client.resolve(ref)
                #expect(second.manifestDigest == first.manifestDigest && second.configBytes == first.configBytes)
                #expect(gets() == (3, 1), "only the tag again: \(gets())")
                // Another platform of the same index is a manifest and a config not seen yet.
                let arm = try await client.resolve(ref, platform: Platform(os: "linux", architecture: "arm64", variant: "v8"))
                #expect(arm.manifestDigest != first.manifestDigest)
                #expect(gets() == (5, 2), "\(gets())")
                // By digest, in the same repository: nothing asked at all.
                let pinned = try await client.resolve(ImageReference(parsing: "\(reg.name)/lib/multi@\(first.manifestDigest)"))
                #expect(pinned.configBytes == first.configBytes)
                #expect(gets() == (5, 2), "\(gets())")
            }
        }
    }

    @Test func resolvesOCIAndDockerImages() async throws {
        try await withPushedRegistry { env, reg, images in
            try await env.withClient { (client: RegistryClient) async throws in
                let ref = try ImageReference(parsing: "\(reg.name)/lib/a:1")
                #expect(ref.registry == reg.name)
                let image = try await client.resolve(ref)
                let expected = try #require(images["single"])
                #expect(image.manifestDigest.description == expected.digest)
                #expect(image.indexDigest == nil)
                #expect(image.manifestMediaType == MediaType.ociManifest)
                #expect(image.configDescriptor.digest.description == expected.manifests[0].config)
                #expect(image.config.env == ["PATH=/usr/bin", "A=1"])
                #expect(image.config.entrypoint == ["/bin/app"])
                #expect(image.config.cmd == ["--help"])
                #expect(image.config.labels == ["org.example": "yes"])
                #expect(image.config.diffIDs.map(\.description) == expected.manifests[0].diff_ids)
                #expect(image.platform == .linuxAMD64)
                #expect(image.layers.map(\.mediaType) == [MediaType.ociLayerGzip, MediaType.ociLayerZstd])
                for layer in image.layers {
                    let bytes = try await drain(client.fetchBlob(ref, descriptor: layer))
                    #expect(SHA256Hasher.hash(bytes) == layer.digest)
                    #expect(Int64(bytes.count) == layer.size)
                }
                // R53 (real): HEAD carries Docker-Content-Digest.
                #expect(try await client.headManifest(ref).digest == image.manifestDigest)

                let docker = try await client.resolve(ImageReference(parsing: "\(reg.name)/lib/v2:1"))
                #expect(docker.manifestMediaType == MediaType.dockerManifest)
                #expect(docker.configDescriptor.mediaType == MediaType.dockerConfig)
                #expect(docker.layers.map(\.mediaType) == [MediaType.dockerLayerGzip])
                #expect(docker.config.env == ["B=2"])

                // By digest.
                let pinned = try await client.resolve(ImageReference(parsing: "\(reg.name)/lib/a@\(expected.digest)"))
                #expect(pinned.manifestDigest == image.manifestDigest)
            }
        }
    }

    /// R20–R23 on a real index.
    @Test func multiPlatformIndex() async throws {
        try await withPushedRegistry { env, reg, images in
            let multi = try #require(images["multi"])
            try await env.withClient { (client: RegistryClient) async throws in
                let ref = try ImageReference(parsing: "\(reg.name)/lib/multi:1")
                let amd = try await client.resolve(ref)
                #expect(amd.indexDigest?.description == multi.digest)
                #expect(amd.manifestDigest.description == multi.manifests[0].manifest)
                #expect(amd.platform == .linuxAMD64)
                let arm = try await client.resolve(ref, platform: Platform(parsing: "linux/arm64"))
                #expect(arm.manifestDigest.description == multi.manifests[1].manifest)
                #expect(arm.platform?.description == "linux/arm64/v8")
                #expect(arm.digest.description == multi.digest)
                await #expect { try await client.resolve(ref, platform: Platform(parsing: "linux/s390x")) } throws: { error in
                    let e = error as? ImgsyncError
                    return e?.code == .noMatchingPlatform && e?.message == "\(ref) has no image for linux/s390x; available: linux/amd64, linux/arm64/v8"
                }
                #expect(try await client.headManifest(ref).digest.description == multi.digest)
            }
        }
    }

    /// R45 and R47/R48 on the real registry.
    @Test func tagsAndNotFound() async throws {
        try await withPushedRegistry { env, reg, _ in
            let (layout, _) = try await env.layout(#"[{"tag":"t","manifests":[{"layers":[{"files":{"f":"1"}}]}]}]"#)
            for tag in ["2", "3", "beta"] {
                try await env.push(layout, tag: "t", to: "\(reg.name)/lib/a:\(tag)")
            }
            try await env.withClient { (client: RegistryClient) async throws in
                // distribution 2.8 ignores n and last and answers in no particular order.
                #expect(try await client.listTags(registry: reg.name, repository: "lib/a", pageSize: 1).sorted() == ["1", "2", "3", "beta"])
                #expect(try await client.listTags(registry: reg.name, repository: "lib/a").sorted() == ["1", "2", "3", "beta"])
                await #expect { try await client.fetchManifest(ImageReference(parsing: "\(reg.name)/lib/a:nosuchtag")) } throws: { error in
                    let e = error as? ImgsyncError
                    return e?.code == .notFound && e?.message == "manifest unknown: \(reg.name)/lib/a:nosuchtag"
                }
                await #expect { try await client.fetchManifest(ImageReference(parsing: "\(reg.name)/lib/nothere:1")) } throws: { errorCode($0) == .notFound }
            }
        }
    }

    /// R55: without the CA, a TLS error (no fallback). R56: a plain-http registry is refused unless
    /// configured insecure.
    @Test func tlsAndPlainHTTP() async throws {
        try await withPushedRegistry { env, reg, _ in
            await #expect {
                try await env.withClient({ $0.caFiles = [] }) { try await $0.fetchManifest(ImageReference(parsing: "\(reg.name)/lib/a:1")) }
            } throws: { error in
                let e = error as? ImgsyncError
                return e?.code == .tls && e?.message.contains("--ca-file") == true
            }
            let plain = try await env.registry(storage: reg.storage, readOnly: true, tls: false)
            let ref = try ImageReference(parsing: "\(plain.name)/lib/a:1")
            await #expect { try await env.withClient { try await $0.fetchManifest(ref) } } throws: { error in
                errorCode(error) == .tls || errorCode(error) == .network
            }
            let fetched = try await env.withClient({ $0.insecureRegistries = [plain.name] }) { try await $0.fetchManifest(ref) }
            #expect(fetched.document.mediaType == MediaType.ociManifest)
        }
    }

    /// R2, R7, R8, R9 with the registry's own `auth: token` and a token server that signs JWTs.
    @Test func tokenAuthentication() async throws {
        try await withPushedRegistry { env, reg, images in
            let token = try await env.tokenServer()
            let secured = try await env.registry(storage: reg.storage, readOnly: true, token: token)
            let ref = try ImageReference(parsing: "\(secured.name)/lib/a:1")
            let expected = try #require(images["single"])

            // Anonymous pull (R2): one GET per scope, no credentials.
            let anonymous = try await env.withClient { try await $0.resolve(ref) }
            #expect(anonymous.manifestDigest.description == expected.digest)
            let anonymousRequests = token.requests()
            #expect(anonymousRequests.count == 1)
            #expect(anonymousRequests.allSatisfy { $0.method == "GET" && $0.header("Authorization") == nil })

            // Credentials (R9): OAuth2 password grant.
            let alice = StaticCredentials([secured.name: .basic(username: "alice", password: "wonderland")])
            let withCredentials = try await env.withClient(credentials: alice) { (client: RegistryClient) async throws in
                let image = try await client.resolve(ref)
                _ = try await drain(client.fetchBlob(ref, descriptor: image.layers[0]))
                return image
            }
            #expect(withCredentials.manifestDigest == anonymous.manifestDigest)
            let posts = token.requests().filter { $0.method == "POST" }
            #expect(posts.count == 1)
            #expect(posts.first?.body.contains("grant_type=password") == true)

            // Wrong password (R8-like): a clear auth error naming the token server's refusal.
            await #expect {
                try await env.withClient(credentials: StaticCredentials([secured.name: .basic(username: "alice", password: "nope")])) {
                    try await $0.fetchManifest(ref)
                }
            } throws: { errorCode($0) == .auth }

            // A token server that grants nothing to anonymous users (R7).
            let stingy = try await env.tokenServer(anonymousActions: [])
            let locked = try await env.registry(storage: reg.storage, readOnly: true, token: stingy)
            await #expect {
                try await env.withClient { try await $0.fetchManifest(ImageReference(parsing: "\(locked.name)/lib/a:1")) }
            } throws: { error in
                let e = error as? ImgsyncError
                return e?.code == .auth && e?.message.contains("pull access denied") == true
            }
        }
    }
}
