import Foundation
import ImgsyncCore
import Testing
@testable import ImgsyncRegistry

/// R14, R16, R19, R20, R23–R28, R45, R46, R50–R53 against a scripted registry.
@Suite(.timeLimit(.minutes(2))) struct ManifestFaultTests {
    let image = FakeImage.make()

    func fetch(_ env: FakeEnvironment, _ routes: [Route], _ reference: String = "lib/a:1",
               logger: LogRecorder? = nil) async throws -> (FetchedManifest, ScriptedServer) {
        let reg = try await env.server("127.0.0.1", [Route("*", "/v2/", .json("{}"))] + routes)
        do {
            let fetched = try await env.withClient(logger: logger?.logger ?? .init(label: "test")) {
                try await $0.fetchManifest(ImageReference(parsing: "\(reg.name)/\(reference)"))
            }
            return (fetched, reg)
        }
    }

    func fetchError(_ env: FakeEnvironment, _ routes: [Route], _ reference: String = "lib/a:1") async throws -> (ImgsyncError?, ScriptedServer) {
        let reg = try await env.server("127.0.0.1", [Route("*", "/v2/", .json("{}"))] + routes)
        do {
            _ = try await env.withClient { try await $0.fetchManifest(ImageReference(parsing: "\(reg.name)/\(reference)")) }
            return (nil, reg)
        } catch {
            return (error as? ImgsyncError, reg)
        }
    }

    /// R14: GET and HEAD list the four manifest types.
    @Test func acceptHeader() async throws {
        try await withFakeEnvironment { env in
            let reg = try await env.server("127.0.0.1", image.routes())
            let ref = try ImageReference(parsing: "\(reg.name)/lib/a:1")
            try await env.withClient { client in
                _ = try await client.headManifest(ref)
                _ = try await client.fetchManifest(ref)
            }
            let requests = reg.requests().filter { $0.path == "/v2/lib/a/manifests/1" }
            #expect(requests.map(\.method) == ["HEAD", "GET"])
            for request in requests {
                let accept = request.header("Accept") ?? ""
                for type in [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest] {
                    #expect(accept.contains(type))
                }
            }
        }
    }

    /// R16: Content-Type says index, the body is a manifest.
    @Test func contentTypeMismatch() async throws {
        try await withFakeEnvironment { env in
            let (error, _) = try await fetchError(env, [Route("*", "/v2/lib/a/manifests/1", .bytes(image.manifest, headers: [("Content-Type", MediaType.ociIndex)]))])
            #expect(error?.code == .manifestMediaTypeMismatch)
        }
    }

    /// R19: schema 1.
    @Test func schema1() async throws {
        try await withFakeEnvironment { env in
            let (error, reg) = try await fetchError(env, [Route("*", "/v2/lib/a/manifests/1", Reply(200, headers: [("Content-Type", MediaType.dockerSchema1Signed)], body: #"{"schemaVersion":1}"#))])
            #expect(error?.code == .unsupportedSchema1)
            #expect(error?.message == "\(reg.name)/lib/a:1 is a Docker schema 1 image (deprecated); rebuild and push it again")
        }
    }

    /// R25: by tag, Docker-Content-Digest does not match the body.
    @Test func headerDigestMismatch() async throws {
        try await withFakeEnvironment { env in
            let wrong = "sha256:" + String(repeating: "a", count: 64)
            let (error, _) = try await fetchError(env, [Route("*", "/v2/lib/a/manifests/1", .bytes(image.manifest, headers: [("Content-Type", MediaType.ociManifest), ("Docker-Content-Digest", wrong)]))])
            #expect(error?.code == .digestMismatch)
        }
    }

    /// R26: by digest, the body hashes to something else, whatever the header says.
    @Test func byDigestWrongBody() async throws {
        try await withFakeEnvironment { env in
            let other = FakeImage.make(seed: 9)
            let (error, _) = try await fetchError(env, [Route("*", "/v2/lib/a/manifests/\(image.manifestDigest)", .bytes(other.manifest, headers: [("Content-Type", MediaType.ociManifest), ("Docker-Content-Digest", image.manifestDigest.description)]))], "lib/a@\(image.manifestDigest)")
            #expect(error?.code == .digestMismatch)
        }
    }

    /// R27: a sha512 header that matches is fine; one that does not is a mismatch.
    @Test func sha512Header() async throws {
        try await withFakeEnvironment { env in
            let good = "sha512:" + SHA512.hex(image.manifest)
            let (fetched, _) = try await fetch(env, [Route("*", "/v2/lib/a/manifests/1", .bytes(image.manifest, headers: [("Content-Type", MediaType.ociManifest), ("Docker-Content-Digest", good)]))])
            #expect(fetched.digest == image.manifestDigest)
            let bad = "sha512:" + String(repeating: "0", count: 128)
            let (error, _) = try await fetchError(env, [Route("*", "/v2/lib/a/manifests/1", .bytes(image.manifest, headers: [("Content-Type", MediaType.ociManifest), ("Docker-Content-Digest", bad)]))])
            #expect(error?.code == .digestMismatch)
        }
    }

    /// R50: invalid or unverifiable digests in Docker-Content-Digest.
    @Test(arguments: [("sha256:../../../etc/passwd", ImgsyncError.Code.invalidDigest), ("md5:d41d8cd98f00b204e9800998ecf8427e", .unsupportedAlgorithm)])
    func badHeaderDigest(_ header: String, _ code: ImgsyncError.Code) async throws {
        try await withFakeEnvironment { env in
            let (error, _) = try await fetchError(env, [Route("*", "/v2/lib/a/manifests/1", .bytes(image.manifest, headers: [("Content-Type", MediaType.ociManifest), ("Docker-Content-Digest", header)]))])
            #expect(error?.code == code)
        }
    }

    /// R51: a 5 MiB manifest (declared or chunked) stops at the 4 MiB limit; a 10 MiB error body does
    /// not stop a clean error; a 2 MiB token response is refused.
    @Test func bodyLimits() async throws {
        try await withFakeEnvironment { env in
            let big = env.dir.file("big.json")
            try Data(repeating: 0x20, count: 5 << 20).write(to: URL(fileURLWithPath: big))
            var declared = Reply(200, headers: [("Content-Type", MediaType.ociManifest)])
            declared.body_file = big
            let chunked = declared.with { $0.content_length = .chunked }
            for reply in [declared, chunked] {
                let (error, _) = try await fetchError(env, [Route("*", "/v2/lib/a/manifests/1", reply)])
                #expect(error?.code == .limit)
            }
            let huge = env.dir.file("huge.txt")
            try Data(repeating: 0x41, count: 10 << 20).write(to: URL(fileURLWithPath: huge))
            let notFound = Reply(404).with { $0.body_file = huge }
            let (error, _) = try await fetchError(env, [Route("*", "/v2/lib/a/manifests/1", notFound)])
            #expect(error?.code == .notFound)

            let tokenBody = env.dir.file("token.json")
            try Data(("{\"token\":\"" + String(repeating: "t", count: 2 << 20) + "\"}").utf8).write(to: URL(fileURLWithPath: tokenBody))
            let auth = try await env.server("127.0.0.2", [Route("*", "/token", Reply(200).with { $0.body_file = tokenBody })])
            let (tokenError, _) = try await fetchError(env, [Route("*", prefix: "/v2/lib", .json("{}", status: 401, headers: [("WWW-Authenticate", #"Bearer realm="\#(auth.url)/token""#)]))])
            #expect(tokenError?.code == .limit)
        }
    }

    /// R52: Warning 299 logged once per text; malformed warnings ignored; behaviour unchanged.
    @Test func warnings() async throws {
        try await withFakeEnvironment { env in
            let reply = image.manifestReply.with { $0.headers += [["Warning", #"299 - "This image is deprecated""#], ["Warning", "199 x"]] }
            let recorder = LogRecorder()
            let reg = try await env.server("127.0.0.1", [Route("*", "/v2/", .json("{}")), Route("*", "/v2/lib/a/manifests/1", reply)])
            try await env.withClient(logger: recorder.logger) { client in
                let ref = try ImageReference(parsing: "\(reg.name)/lib/a:1")
                _ = try await client.fetchManifest(ref)
                _ = try await client.fetchManifest(ref)
            }
            #expect(recorder.messages.filter { $0.contains("This image is deprecated") }.count == 1)
            #expect(!recorder.messages.contains { $0.contains("199") || $0.hasSuffix(": x") })
        }
    }

    /// R53: HEAD without Docker-Content-Digest falls back to GET; with it, no GET.
    @Test func headFallback() async throws {
        try await withFakeEnvironment { env in
            let headOnly = Reply(200, headers: [("Content-Type", MediaType.ociManifest), ("Content-Length", "\(image.manifest.count)")]).with { $0.content_length = .none }
            let reg = try await env.server("127.0.0.1", [
                Route("*", "/v2/", .json("{}")),
                Route("HEAD", "/v2/lib/a/manifests/1", headOnly),
                Route("GET", "/v2/lib/a/manifests/1", image.manifestReply),
                Route("*", "/v2/lib/a/manifests/2", image.manifestReply),
            ])
            let heads = try await env.withClient { client in
                [try await client.headManifest(ImageReference(parsing: "\(reg.name)/lib/a:1")),
                 try await client.headManifest(ImageReference(parsing: "\(reg.name)/lib/a:2"))]
            }
            #expect(heads.map(\.digest) == [image.manifestDigest, image.manifestDigest])
            #expect(reg.requests().filter { $0.path != "/v2/" }.map { "\($0.method) \($0.path)" } == [
                "HEAD /v2/lib/a/manifests/1", "GET /v2/lib/a/manifests/1", "HEAD /v2/lib/a/manifests/2",
            ])
        }
    }

    /// R45: 404 with MANIFEST_UNKNOWN, NAME_UNKNOWN or HTML: clear, not retried.
    @Test func notFound() async throws {
        try await withFakeEnvironment { env in
            let (e1, r1) = try await fetchError(env, [Route("*", "/v2/lib/a/manifests/nosuchtag", .json(#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#, status: 404))], "lib/a:nosuchtag")
            #expect(e1?.code == .notFound)
            #expect(e1?.message == "manifest unknown: \(r1.name)/lib/a:nosuchtag")
            #expect(r1.requests().filter { $0.path.contains("manifests") }.count == 1)
            let (e2, r2) = try await fetchError(env, [Route("*", "/v2/lib/a/manifests/1", .json(#"{"errors":[{"code":"NAME_UNKNOWN"}]}"#, status: 404))])
            #expect(e2?.code == .notFound)
            #expect(e2?.message == "repository not found: \(r2.name)/lib/a (NAME_UNKNOWN)")
            let (e3, _) = try await fetchError(env, [Route("*", "/v2/lib/a/manifests/1", Reply(404, headers: [("Content-Type", "text/html")], body: "<html>404</html>"))])
            #expect(e3?.code == .notFound)
        }
    }

    /// R46: 403 DENIED: no retry, no token refresh.
    @Test func denied() async throws {
        try await withFakeEnvironment { env in
            let auth = try await env.server("127.0.0.2", [Route("*", "/token", .json(#"{"token":"T"}"#))])
            let reg = try await env.server("127.0.0.1", [
                Route("*", "/v2/", .json("{}", status: 401, headers: [("WWW-Authenticate", #"Bearer realm="\#(auth.url)/token""#)])),
                Route("*", prefix: "/v2/lib/a/", .json(#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#, status: 403)),
            ])
            await #expect {
                try await env.withClient { try await $0.fetchManifest(ImageReference(parsing: "\(reg.name)/lib/a:1")) }
            } throws: { errorCode($0) == .denied && "\($0)".contains("DENIED") }
            #expect(reg.requests().filter { $0.path != "/v2/" }.count == 1)
            #expect(auth.requests().count == 1)
        }
    }

    static func indexJSON(_ entries: [(String, Digest, Int, String?)]) -> [UInt8] {
        let items = entries.map { type, digest, size, platform -> String in
            let p = platform.map { p -> String in
                let parts = p.split(separator: "/")
                return #","platform":{"os":"\#(parts[0])","architecture":"\#(parts[1])"\#(parts.count > 2 ? ",\"variant\":\"\(parts[2])\"" : "")}"#
            } ?? ""
            return #"{"mediaType":"\#(type)","digest":"\#(digest)","size":\#(size)\#(p)}"#
        }
        return Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[\#(items.joined(separator: ","))]}"#.utf8)
    }

    static func indexReply(_ body: [UInt8]) -> Reply { .bytes(body, headers: [("Content-Type", MediaType.ociIndex)]) }

    /// R24: index → index → manifest, with an unknown entry skipped; 5 levels → ERROR(limit).
    @Test func nestedIndexes() async throws {
        try await withFakeEnvironment { env in
            let unknown = SHA256Hasher.hash(Array("x".utf8))
            let inner = Self.indexJSON([("application/vnd.example+json", unknown, 1, "linux/amd64"), (MediaType.ociManifest, image.manifestDigest, image.manifest.count, "linux/amd64")])
            let innerDigest = SHA256Hasher.hash(inner)
            let outer = Self.indexJSON([(MediaType.ociIndex, innerDigest, inner.count, nil)])
            var routes = image.routes()
            routes[1] = Route("*", "/v2/lib/a/manifests/1", Self.indexReply(outer))
            routes.append(Route("*", "/v2/lib/a/manifests/\(innerDigest)", Self.indexReply(inner)))
            let reg = try await env.server("127.0.0.1", routes)
            let resolved = try await env.withClient { try await $0.resolve(ImageReference(parsing: "\(reg.name)/lib/a:1")) }
            #expect(resolved.manifestDigest == image.manifestDigest)
            #expect(resolved.indexDigest == SHA256Hasher.hash(outer))
            #expect(resolved.platform == .linuxAMD64)
            #expect(!reg.requests().contains { $0.path.contains(unknown.hex) })

            // Five nested levels.
            var level = Self.indexJSON([(MediaType.ociManifest, image.manifestDigest, image.manifest.count, "linux/amd64")])
            var deep = image.routes()
            for _ in 0..<4 {
                deep.append(Route("*", "/v2/lib/a/manifests/\(SHA256Hasher.hash(level))", Self.indexReply(level)))
                level = Self.indexJSON([(MediaType.ociIndex, SHA256Hasher.hash(level), level.count, nil)])
            }
            deep[1] = Route("*", "/v2/lib/a/manifests/1", Self.indexReply(level))
            let deepReg = try await env.server("127.0.0.1", deep)
            await #expect {
                try await env.withClient { try await $0.resolve(ImageReference(parsing: "\(deepReg.name)/lib/a:1")) }
            } throws: { errorCode($0) == .limit }
        }
    }

    /// R23: no match names the ref, the request and what is available.
    @Test func noMatchingPlatform() async throws {
        try await withFakeEnvironment { env in
            let index = Self.indexJSON([(MediaType.ociManifest, image.manifestDigest, image.manifest.count, "linux/s390x"), (MediaType.ociManifest, image.manifestDigest, image.manifest.count, "linux/ppc64le")])
            var routes = image.routes()
            routes[1] = Route("*", "/v2/lib/a/manifests/1", Self.indexReply(index))
            let reg = try await env.server("127.0.0.1", routes)
            await #expect {
                try await env.withClient { try await $0.resolve(ImageReference(parsing: "\(reg.name)/lib/a:1")) }
            } throws: { error in
                let e = error as? ImgsyncError
                return e?.code == .noMatchingPlatform && e?.message == "\(reg.name)/lib/a:1 has no image for linux/amd64; available: linux/s390x, linux/ppc64le"
            }
        }
    }

    /// R28: a Helm chart (or any artifactType) is not a container image; zero layers is fine.
    @Test func artifactsAndEmptyImages() async throws {
        try await withFakeEnvironment { env in
            let helm = FakeImage.make(configMediaType: "application/vnd.cncf.helm.config.v1+json")
            let reg = try await env.server("127.0.0.1", helm.routes())
            await #expect {
                try await env.withClient { try await $0.resolve(ImageReference(parsing: "\(reg.name)/lib/a:1")) }
            } throws: { errorCode($0) == .notAContainerImage }
            #expect(!reg.requests().contains { $0.path.contains(helm.configDigest.hex) })

            let empty = FakeImage.make(layerSizes: [])
            let reg2 = try await env.server("127.0.0.1", empty.routes())
            let resolved = try await env.withClient { try await $0.resolve(ImageReference(parsing: "\(reg2.name)/lib/a:1")) }
            #expect(resolved.layers.isEmpty)
            #expect(resolved.config.diffIDs.isEmpty)
        }
    }

    /// R42 (the part the client can check): as many diff_ids as layers, else ERROR(config).
    @Test func diffIDCountMismatch() async throws {
        try await withFakeEnvironment { env in
            let image = FakeImage.make(layerSizes: [10, 20], diffIDCount: 1)
            let reg = try await env.server("127.0.0.1", image.routes())
            await #expect {
                try await env.withClient { try await $0.resolve(ImageReference(parsing: "\(reg.name)/lib/a:1")) }
            } throws: { errorCode($0) == .config && "\($0)".contains("1 diff_ids for 2 layers") }
        }
    }

    /// R20: the amd64 child is fetched by digest and verified; attestation entries are never fetched.
    @Test func attestationsSkipped() async throws {
        try await withFakeEnvironment { env in
            let arm = FakeImage.make(seed: 2)
            let attestation = FakeImage.make(seed: 3)
            let entries = #"[{"mediaType":"\#(MediaType.ociManifest)","digest":"\#(attestation.manifestDigest)","size":\#(attestation.manifest.count),"platform":{"os":"unknown","architecture":"unknown"},"annotations":{"vnd.docker.reference.type":"attestation-manifest"}},{"mediaType":"\#(MediaType.ociManifest)","digest":"\#(arm.manifestDigest)","size":\#(arm.manifest.count),"platform":{"os":"linux","architecture":"arm64"}},{"mediaType":"\#(MediaType.ociManifest)","digest":"\#(image.manifestDigest)","size":\#(image.manifest.count),"platform":{"os":"linux","architecture":"amd64"}}]"#
            let index = Array(#"{"schemaVersion":2,"mediaType":"\#(MediaType.ociIndex)","manifests":\#(entries)}"#.utf8)
            var routes = image.routes()
            routes[1] = Route("*", "/v2/lib/a/manifests/1", Self.indexReply(index))
            // The amd64 child, served with a body that does not hash to its digest, must be refused.
            let tampered = try await env.server("127.0.0.1", routes.map { route in
                route.path == "/v2/lib/a/manifests/\(image.manifestDigest)" ? Route("*", route.path!, .bytes(arm.manifest, headers: [("Content-Type", MediaType.ociManifest)])) : route
            })
            await #expect {
                try await env.withClient { try await $0.resolve(ImageReference(parsing: "\(tampered.name)/lib/a:1")) }
            } throws: { errorCode($0) == .digestMismatch }
            let reg = try await env.server("127.0.0.1", routes)
            let resolved = try await env.withClient { try await $0.resolve(ImageReference(parsing: "\(reg.name)/lib/a:1")) }
            #expect(resolved.manifestDigest == image.manifestDigest)
            #expect(resolved.indexDigest == SHA256Hasher.hash(index))
            #expect(!reg.requests().contains { $0.path.contains(attestation.manifestDigest.hex) || $0.path.contains(arm.manifestDigest.hex) })
        }
    }
}
