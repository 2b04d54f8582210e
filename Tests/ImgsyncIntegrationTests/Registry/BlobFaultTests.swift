import Foundation
import Synchronization
import ImgsyncCore
import Testing
@testable import ImgsyncRegistry

/// R30–R41, R43, R44, R54, R55 against scripted registry (127.0.0.1), token (127.0.0.2) and blob
/// storage (127.0.0.3) servers.
@Suite(.timeLimit(.minutes(3))) struct BlobFaultTests {
    static let size = 300_000
    let image = FakeImage.make(layerSizes: [BlobFaultTests.size])
    var blob: [UInt8] { image.layers[0] }
    var blobPath: String { "/v2/lib/a/blobs/\(image.layerDigests[0])" }

    /// Runs a fetch of the layer against `replies` for its blob route; returns the bytes delivered
    /// before the stream ended or failed, the error and the server.
    func pull(_ env: FakeEnvironment, _ replies: [Reply], extra: [Route] = [], credentials: any CredentialProvider = AnonymousCredentials(),
              _ change: (inout RegistryClientConfiguration) -> Void = { _ in }) async throws -> (delivered: [UInt8], error: ImgsyncError?, server: ScriptedServer) {
        var route = Route("GET", blobPath)
        route.responses = replies
        let reg = try await env.server("127.0.0.1", [Route("*", "/v2/", .json("{}")), route] + extra)
        let ref = try ImageReference(parsing: "\(reg.name)/lib/a:1")
        return try await env.withClient(credentials: credentials, change) { client in
            var delivered: [UInt8] = []
            do {
                for try await chunk in client.fetchBlob(ref, descriptor: image.layerDescriptor()) {
                    delivered += chunk.readableBytesView
                }
                return (delivered, nil, reg)
            } catch {
                return (delivered, error as? ImgsyncError, reg)
            }
        }
    }

    func blobRequests(_ server: ScriptedServer) -> [LoggedRequest] { server.requests().filter { $0.path == blobPath } }

    /// The start offset of an open-ended `Range: bytes=N-` header, nil when there is none or it has
    /// another shape.
    func resumeOffset(_ request: LoggedRequest?) -> Int? {
        guard let range = request?.header("Range"), range.hasPrefix("bytes="), range.hasSuffix("-") else { return nil }
        return Int(range.dropFirst("bytes=".count).dropLast())
    }

    /// Whether a resume asked for a start in `1...cut`. A reset after `cut` bytes can make the
    /// client's kernel drop bytes still unread, so the resume may start before the cut; it must never
    /// start after it, or at 0.
    func resumesWithin(_ request: LoggedRequest?, cut: Int) -> Bool {
        guard let offset = resumeOffset(request) else { return false }
        return offset > 0 && offset <= cut
    }

    @Test func plainPull() async throws {
        try await withFakeEnvironment { env in
            let (bytes, error, server) = try await pull(env, [.bytes(blob)])
            #expect(error == nil)
            #expect(bytes == blob)
            #expect(blobRequests(server).first?.header("Accept-Encoding") == "identity")
        }
    }

    /// R30: one flipped byte → digest mismatch, raised instead of delivering the last chunk.
    @Test func digestMismatch() async throws {
        try await withFakeEnvironment { env in
            var flipped = blob
            flipped[1000] ^= 0xFF
            let (bytes, error, _) = try await pull(env, [.bytes(flipped)])
            #expect(error?.code == .digestMismatch)
            #expect(bytes.count < Self.size)
        }
    }

    /// R31: longer than the descriptor (declared, or chunked) → size mismatch, nothing past the size.
    @Test func tooLong() async throws {
        try await withFakeEnvironment { env in
            let (b1, e1, _) = try await pull(env, [.bytes(blob + [0])])
            #expect(e1?.code == .sizeMismatch)
            #expect(b1.isEmpty)
            let (b2, e2, _) = try await pull(env, [Reply.bytes(blob + [0]).with { $0.content_length = .chunked }])
            #expect(e2?.code == .sizeMismatch)
            #expect(b2.count <= Self.size)
        }
    }

    /// R32 (a): a declared short length → size mismatch, no retry.
    @Test func declaredShort() async throws {
        try await withFakeEnvironment { env in
            let (_, error, server) = try await pull(env, [.bytes(Array(blob.prefix(Self.size - 10)))])
            #expect(error?.code == .sizeMismatch)
            #expect(blobRequests(server).count == 1)
        }
    }

    /// R32 (b) and R33: the body ends early (clean close, or RST) → resume with Range; the digest
    /// covers the whole blob.
    @Test(arguments: [true, false])
    func resumeWithRange(reset: Bool) async throws {
        try await withFakeEnvironment { env in
            let cut = reset ? 100_000 : Self.size - 10
            let first = Reply.bytes(blob).with { if reset { $0.truncate_after = cut } else { $0.close_after = cut } }
            let second = Reply.bytes(blob).with { $0.honor_range = true }
            let (bytes, error, server) = try await pull(env, [first, second])
            #expect(error == nil)
            #expect(bytes == blob)
            let requests = blobRequests(server)
            #expect(requests.count == 2)
            #expect(requests.first?.header("Range") == nil)
            // The resume starts where the client's bytes ended: at the cut, or earlier when the kernel
            // dropped data still in flight (a close with unread input turns into a reset).
            #expect(resumesWithin(requests.last, cut: cut))
        }
    }

    /// R34: the server ignores Range and sends everything again → skipped to the offset.
    @Test func resumeIgnoredRange() async throws {
        try await withFakeEnvironment { env in
            let (bytes, error, server) = try await pull(env, [Reply.bytes(blob).with { $0.truncate_after = 50_000 }, .bytes(blob)])
            #expect(error == nil)
            #expect(bytes == blob)
            let requests = blobRequests(server)
            #expect(requests.count == 2)
            #expect(resumesWithin(requests.last, cut: 50_000))
        }
    }

    /// R35: 416 → one restart from 0; a wrong Content-Range start → restart; `/*` accepted;
    /// a second bad answer is an error.
    @Test func resumeBadRanges() async throws {
        try await withFakeEnvironment { env in
            let cut = Reply.bytes(blob).with { $0.truncate_after = 50_000 }
            let (b1, e1, s1) = try await pull(env, [cut, Reply(416), .bytes(blob)])
            #expect(e1 == nil && b1 == blob)
            let r1 = blobRequests(s1)
            #expect(r1.count == 3)
            #expect(r1.first?.header("Range") == nil && r1.last?.header("Range") == nil)
            #expect(resumesWithin(r1.dropFirst().first, cut: 50_000))

            let wrongStart = Reply.bytes(Array(blob[0...])).with {
                $0.status = 206
                $0.headers = [["Content-Range", "bytes 0-\(Self.size - 1)/\(Self.size)"]]
            }
            let (b2, e2, s2) = try await pull(env, [cut, wrongStart, .bytes(blob)])
            #expect(e2 == nil && b2 == blob)
            #expect(blobRequests(s2).count == 3)

            let star = Reply.bytes(Array(blob[50_000...])).with {
                $0.status = 206
                $0.headers = [["Content-Range", "bytes 50000-\(Self.size - 1)/*"]]
            }
            // When the reset dropped bytes the client asks for an earlier start, the answer's start
            // is then wrong and the client restarts from 0 (the third reply).
            let (b3, e3, s3) = try await pull(env, [cut, star, .bytes(blob)])
            #expect(e3 == nil && b3 == blob)
            let r3 = blobRequests(s3)
            #expect(r3.count == (resumeOffset(r3.dropFirst().first) == 50_000 ? 2 : 3))

            let (_, e4, s4) = try await pull(env, [cut, Reply(416), Reply(416)])
            #expect(e4 != nil)
            #expect(blobRequests(s4).count <= 3)
        }
    }

    /// R33: a bounded number of reconnects, only while progress is made.
    @Test func resumeGivesUp() async throws {
        try await withFakeEnvironment { env in
            let (_, error, server) = try await pull(env, [Reply.bytes(blob).with { $0.truncate_after = 1000 }, Reply.bytes(blob).with { $0.truncate_after = 1000 }]) {
                $0.maxResumes = 3
            }
            #expect(error != nil)
            #expect(blobRequests(server).count <= 4)
        }
    }

    /// R36: a cross-host 307 keeps no Authorization; the body is still verified; a 400 XML from the
    /// storage host and a 401 challenge from it are errors with no token exchange.
    @Test func crossHostRedirect() async throws {
        try await withFakeEnvironment { env in
            let auth = try await env.server("127.0.0.2", [Route("GET", "/token", .json(#"{"token":"T"}"#))])
            let blobHost = try await env.server("127.0.0.3", [
                Route("GET", "/bucket/good", .bytes(blob, headers: [("Set-Cookie", "s=1")])),
                Route("GET", "/bucket/xml", Reply(400, headers: [("Content-Type", "application/xml")], body: "<Error><Code>InvalidArgument</Code></Error>")),
                Route("GET", "/bucket/auth", .json("{}", status: 401, headers: [("WWW-Authenticate", #"Bearer realm="\#(auth.url)/token""#)])),
            ])
            let challenge = ("WWW-Authenticate", #"Bearer realm="\#(auth.url)/token",service="reg""#)
            for (target, ok) in [("good", true), ("xml", false), ("auth", false)] {
                let redirect = Reply(307, headers: [("Location", "\(blobHost.url)/bucket/\(target)?X-Amz-Signature=abc")])
                var route = Route("GET", blobPath)
                route.responses = [redirect]
                let reg = try await env.server("127.0.0.1", [Route("*", "/v2/", .json("{}", status: 401, headers: [challenge])), route])
                let ref = try ImageReference(parsing: "\(reg.name)/lib/a:1")
                do {
                    let bytes = try await env.withClient { try await drain($0.fetchBlob(ref, descriptor: image.layerDescriptor())) }
                    #expect(ok)
                    #expect(bytes == blob)
                } catch {
                    #expect(!ok)
                    if target == "xml" { #expect("\(error)".contains("400")) }
                    if target == "auth" { #expect(errorCode(error) == .foreignAuth) }
                }
                #expect(reg.requests().last?.header("Authorization") == "Bearer T")
            }
            let storage = blobHost.requests()
            #expect(storage.count == 3)
            #expect(storage.allSatisfy { $0.header("Authorization") == nil && $0.header("Cookie") == nil })
            #expect(storage.first?.path == "/bucket/good?X-Amz-Signature=abc")
            #expect(auth.requests().count == 3)  // one per client (three clients), none for the storage host
        }
    }

    /// R37: a same-host redirect keeps Authorization.
    @Test func sameHostRedirect() async throws {
        try await withFakeEnvironment { env in
            let auth = try await env.server("127.0.0.2", [Route("GET", "/token", .json(#"{"token":"T"}"#))])
            let other = "/v2/lib/b/blobs/\(image.layerDigests[0])"
            let (bytes, error, server) = try await pull(env, [Reply(307, headers: [("Location", other)])],
                                                        extra: [Route("GET", other, .bytes(blob))]) { _ in }
            _ = auth
            #expect(error == nil && bytes == blob)
            #expect(server.requests().last?.path == other)
        }
    }

    /// R37 with auth: the redirected request carries the same Bearer token.
    @Test func sameHostRedirectKeepsToken() async throws {
        try await withFakeEnvironment { env in
            let auth = try await env.server("127.0.0.2", [Route("GET", "/token", .json(#"{"token":"T"}"#))])
            let other = "/v2/lib/b/blobs/\(image.layerDigests[0])"
            let reg = try await env.server("127.0.0.1", [
                Route("*", "/v2/", .json("{}", status: 401, headers: [("WWW-Authenticate", #"Bearer realm="\#(auth.url)/token""#)])),
                Route("GET", blobPath, Reply(307, headers: [("Location", other)])),
                Route("GET", other, .bytes(blob)),
            ])
            let bytes = try await env.withClient { try await drain($0.fetchBlob(ImageReference(parsing: "\(reg.name)/lib/a:1"), descriptor: image.layerDescriptor())) }
            #expect(bytes == blob)
            #expect(reg.requests().filter { $0.path != "/v2/" }.map { $0.header("Authorization") } == ["Bearer T", "Bearer T"])
        }
    }

    /// R38: https → http is refused before anything is sent.
    @Test func downgradeRefused() async throws {
        try await withFakeEnvironment { env in
            let plain = try await env.plainServer("127.0.0.3", [Route("GET", "/blob", .bytes(blob))])
            let (_, error, _) = try await pull(env, [Reply(302, headers: [("Location", "http://\(plain.name)/blob")])])
            #expect(error?.code == .insecureRedirect)
            #expect(plain.requests().isEmpty)
        }
    }

    /// R56: plain http only for a registry configured insecure, and Basic credentials only if also allowed.
    @Test func insecureRegistryAndCredentials() async throws {
        try await withFakeEnvironment { env in
            let reg = try await env.plainServer("127.0.0.1", [
                Route("*", "/v2/", .json("{}", status: 401, headers: [("WWW-Authenticate", #"Basic realm="reg""#)])),
                Route("*", "/v2/lib/a/manifests/1", image.manifestReply),
            ])
            let ref = try ImageReference(parsing: "\(reg.name)/lib/a:1")
            let creds = StaticCredentials([reg.name: .basic(username: "u", password: "p")])
            await #expect { try await env.withClient(credentials: creds) { try await $0.fetchManifest(ref) } } throws: { _ in true }
            #expect(reg.requests().isEmpty)
            await #expect {
                try await env.withClient(credentials: creds, { $0.insecureRegistries = [reg.name] }) { try await $0.fetchManifest(ref) }
            } throws: { errorCode($0) == .auth }
            #expect(!reg.requests().contains { $0.header("Authorization") != nil })
            let fetched = try await env.withClient(credentials: creds, { $0.insecureRegistries = [reg.name]; $0.allowCredentialsOverHTTP = true }) {
                try await $0.fetchManifest(ref)
            }
            #expect(fetched.digest == image.manifestDigest)
            #expect(reg.requests().last?.header("Authorization") == "Basic " + Data("u:p".utf8).base64EncodedString())
        }
    }

    /// R39: more than 10 redirects; a redirect to a loopback host that is not allow-listed.
    @Test func redirectLoopAndSSRF() async throws {
        try await withFakeEnvironment { env in
            let (_, e1, s1) = try await pull(env, [Reply(307, headers: [("Location", blobPath)])])
            #expect(e1?.code == .tooManyRedirects)
            #expect(blobRequests(s1).count == 11)
            let (_, e2, _) = try await pull(env, [Reply(307, headers: [("Location", "https://127.0.0.9/x")])])
            #expect(e2?.code == .forbiddenTarget)
            let (_, e3, _) = try await pull(env, [Reply(307, headers: [("Location", "https://169.254.169.254/latest/meta-data")])])
            #expect(e3?.code == .forbiddenTarget)
        }
    }

    /// R40: a foreign layer the registry lacks comes from its url, without credentials; a 401 there
    /// is ERROR(foreign-auth) with no token exchange.
    @Test func foreignLayer() async throws {
        try await withFakeEnvironment { env in
            let auth = try await env.server("127.0.0.2", [Route("GET", "/token", .json(#"{"token":"T"}"#))])
            let foreign = try await env.server("127.0.0.3", [
                Route("GET", "/layer.tgz", .bytes(blob)),
                Route("GET", "/private.tgz", .json("{}", status: 401, headers: [("WWW-Authenticate", #"Bearer realm="https://127.0.0.3/token""#)])),
            ])
            let reg = try await env.server("127.0.0.1", [
                Route("*", "/v2/", .json("{}", status: 401, headers: [("WWW-Authenticate", #"Bearer realm="\#(auth.url)/token""#)])),
                Route("GET", blobPath, .json(#"{"errors":[{"code":"BLOB_UNKNOWN"}]}"#, status: 404)),
            ])
            let ref = try ImageReference(parsing: "\(reg.name)/lib/a:1")
            func descriptor(_ url: String) -> Descriptor {
                Descriptor(mediaType: MediaType.dockerForeignLayerGzip, digest: image.layerDigests[0], size: Int64(Self.size), urls: [url])
            }
            try await env.withClient(credentials: StaticCredentials([reg.name: .basic(username: "u", password: "p")])) { (client: RegistryClient) async throws in
                let fetched = try await drain(client.fetchBlob(ref, descriptor: descriptor("\(foreign.url)/layer.tgz")))
                #expect(fetched == blob)
                await #expect { try await drain(client.fetchBlob(ref, descriptor: descriptor("\(foreign.url)/private.tgz"))) } throws: {
                    errorCode($0) == .foreignAuth
                }
                await #expect { try await drain(client.fetchBlob(ref, descriptor: descriptor("http://127.0.0.3/x.tgz"))) } throws: {
                    errorCode($0) == .forbiddenTarget
                }
            }
            #expect(foreign.requests().allSatisfy { $0.header("Authorization") == nil })
            #expect(foreign.requests().map(\.path) == ["/layer.tgz", "/private.tgz"])
            // One token exchange for the registry (OAuth2 POST, 404 here, then GET); none for the url host.
            #expect(auth.requests().map(\.method) == ["POST", "GET"])
        }
    }

    /// R41: a gzip transport encoding is undone before hashing.
    @Test func contentEncoding() async throws {
        try await withFakeEnvironment { env in
            let (bytes, error, server) = try await pull(env, [Reply.bytes(blob).with { $0.gzip = true }])
            #expect(error == nil && bytes == blob)
            #expect(blobRequests(server).first?.header("Accept-Encoding") == "identity")
        }
    }

    /// R43: 429 Retry-After (seconds) is waited out; an HTTP-date works too; persistent 429 is
    /// ERROR(rate-limited) showing the RateLimit headers.
    @Test func rateLimited() async throws {
        try await withFakeEnvironment { env in
            let limited = Reply(429, headers: [("Retry-After", "1"), ("ratelimit-remaining", "0;w=21600")], body: "You have reached your pull rate limit.")
            let (bytes, error, server) = try await pull(env, [limited, .bytes(blob)])
            #expect(error == nil && bytes == blob)
            let times = blobRequests(server).map(\.t)
            #expect(times.count == 2)
            #expect(times[1] - times[0] >= 0.95)

            let waits = Mutex<[Duration]>([])
            let date = Reply(429, headers: [("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")])
            let (_, e2, s2) = try await pull(env, [date, limited, limited, limited, limited, limited]) {
                $0.sleep = { d in waits.withLock { $0.append(d) } }
                $0.maxAttempts = 4
            }
            #expect(e2?.code == .rateLimited)
            #expect(e2?.message.contains("ratelimit-remaining: 0;w=21600") == true)
            #expect(blobRequests(s2).count == 4)
            #expect(waits.withLock { $0 } == [.zero, .seconds(1), .seconds(1)])
        }
    }

    /// R44: 502, 503, 504 then 200 succeeds with backoff; a persistent 500 is ERROR(server) with the
    /// status and an excerpt of the body.
    @Test func serverErrors() async throws {
        try await withFakeEnvironment { env in
            let waits = Mutex<[Duration]>([])
            let (bytes, error, server) = try await pull(env, [Reply(502), Reply(503), Reply(504), .bytes(blob)]) {
                $0.sleep = { d in waits.withLock { $0.append(d) } }
                $0.retryBaseDelay = .seconds(1)
                $0.maxRetryDelay = .seconds(30)
                $0.jitter = { 1 }
            }
            #expect(error == nil && bytes == blob)
            #expect(blobRequests(server).count == 4)
            #expect(waits.withLock { $0 } == [.seconds(1), .seconds(2), .seconds(4)])

            let (_, e2, s2) = try await pull(env, [Reply(500, body: "database exploded")]) { $0.maxAttempts = 3 }
            #expect(e2?.code == .server)
            #expect(e2?.message.contains("500") == true && e2?.message.contains("database exploded") == true)
            #expect(blobRequests(s2).count == 3)
        }
    }

    /// R54 (a): a stalled body hits the idle-read timeout and resumes; (b) a slow but steady body is
    /// not killed; (c) a blackholed port is ERROR(timeout).
    @Test func slowServers() async throws {
        try await withFakeEnvironment { env in
            // After the stall the server sends the rest: only the idle-read timeout makes a second request.
            let stall = Reply.bytes(blob).with { $0.stall_after = 100_000; $0.stall_seconds = 60 }
            let honour = Reply.bytes(blob).with { $0.honor_range = true }
            let (b1, e1, s1) = try await pull(env, [stall, honour]) { $0.readTimeout = .seconds(2) }
            #expect(e1 == nil && b1 == blob)
            // Every resume asks for the first byte not yet received: never past the 100 kB the stalled
            // reply sent, always forward. (On a loaded machine the idle timeout may fire before all
            // of those 100 kB were read, or cut a range-honouring reply too; each such cut resumes again.)
            let ranges = blobRequests(s1).map { $0.header("Range") }
            let offsets = ranges.dropFirst().map { $0.flatMap { Int($0.dropFirst("bytes=".count).dropLast()) } ?? -1 }
            #expect(ranges.count >= 2 && ranges.first == .some(nil), "\(ranges)")
            #expect(offsets.first.map { $0 > 0 && $0 <= 100_000 } == true, "\(ranges)")
            #expect(zip(offsets, offsets.dropFirst()).allSatisfy { $0 < $1 }, "\(ranges)")
            #expect(ranges.dropFirst().allSatisfy { $0?.hasPrefix("bytes=") == true && $0?.hasSuffix("-") == true }, "\(ranges)")

            // 100 kB at 10 kB/s (1 kB every 0.1 s): ten seconds in all, longer than the 8 s idle-read
            // timeout, never idle that long. The margin is wide on purpose: when a loaded machine starves
            // the client's event loop for seconds, the timer may run before the bytes already waiting
            // in the socket are read (CI saw a 3 s timeout fire this way).
            let small = FakeImage.make(layerSizes: [100_000], seed: 3)
            let trickle = Reply.bytes(small.layers[0]).with { $0.trickle = 10_000 }
            let reg = try await env.server("127.0.0.1", [Route("*", "/v2/", .json("{}")), Route("GET", "/v2/lib/a/blobs/\(small.layerDigests[0])", trickle)])
            let trickleStart = Date()
            let bytes = try await env.withClient({ $0.readTimeout = .seconds(8) }) {
                try await drain($0.fetchBlob(ImageReference(parsing: "\(reg.name)/lib/a:1"), descriptor: small.layerDescriptor()))
            }
            #expect(bytes == small.layers[0])
            #expect(Date().timeIntervalSince(trickleStart) > 8.5)
            #expect(reg.requests().filter { $0.path.contains("blobs") }.count == 1)

            let hole = try await env.blackhole("127.0.0.1")
            let t0 = Date()
            await #expect {
                try await env.withClient({ $0.connectTimeout = .seconds(1); $0.maxAttempts = 2 }) {
                    try await $0.fetchManifest(ImageReference(parsing: "\(hole.name)/lib/a:1"))
                }
            } throws: { errorCode($0) == .timeout }
            #expect(Date().timeIntervalSince(t0) < 10)
        }
    }

    /// R55: without the CA, TLS fails closed (no retry, no http).
    @Test func untrustedCertificate() async throws {
        try await withFakeEnvironment { env in
            let reg = try await env.server("127.0.0.1", image.routes())
            await #expect {
                try await env.withClient({ $0.caFiles = [] }) { try await $0.fetchManifest(ImageReference(parsing: "\(reg.name)/lib/a:1")) }
            } throws: { error in
                // In our words: what went wrong and what to do, no TLS library type names, no build paths.
                let message = (error as? ImgsyncError)?.message ?? ""
                let internals = ["NIOSSL", "BoringSSL", "NIOSSLError", "handshakeFailed", "/.build/", ".swift:", "errno"]
                return errorCode(error) == .tls && message.contains("not trusted") && message.contains("--ca-file")
                    && !internals.contains { message.contains($0) } && message.count < 400
            }
            #expect(reg.requests().isEmpty)
        }
    }
}
