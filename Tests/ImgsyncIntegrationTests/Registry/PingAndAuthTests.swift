import Foundation
import Synchronization
import ImgsyncCore
import Testing
@testable import ImgsyncRegistry

/// R1–R9, R13 against scripted registry (127.0.0.1) and token (127.0.0.2) servers.
@Suite(.timeLimit(.minutes(2))) struct PingAndAuthTests {
    let image = FakeImage.make()

    /// R1: 200 → anonymous; the client pings once, then sends no Authorization.
    @Test func pingOKIsAnonymous() async throws {
        try await withFakeEnvironment { env in
            let reg = try await env.server("127.0.0.1", image.routes())
            let resolved = try await env.withClient { client in
                try await client.resolve(ImageReference(parsing: "\(reg.name)/lib/a:1"))
            }
            #expect(resolved.manifestDigest == image.manifestDigest)
            let log = reg.requests()
            #expect(log.first?.path == "/v2/")
            #expect(log.filter { $0.path == "/v2/" }.count == 1)
            #expect(log.allSatisfy { $0.header("Authorization") == nil })
        }
    }

    /// R1: 404, or 200 with HTML → "not an OCI/Docker v2 registry".
    @Test(arguments: [Reply(404, body: "nope"), Reply(200, headers: [("Content-Type", "text/html")], body: "<html>hello</html>")])
    func pingNotARegistry(_ reply: Reply) async throws {
        try await withFakeEnvironment { env in
            let reg = try await env.server("127.0.0.1", [Route("*", "/v2/", reply)])
            await #expect {
                try await env.withClient { try await $0.fetchManifest(ImageReference(parsing: "\(reg.name)/lib/a:1")) }
            } throws: { error in
                let e = error as? ImgsyncError
                return e?.code == .notARegistry && e?.message.hasPrefix("not an OCI/Docker v2 registry: \(reg.name)") == true
            }
            #expect(reg.requests().map(\.path) == ["/v2/"])
        }
    }

    /// R1 + R2: 401 on ping → one anonymous token fetch per scope before the first repo request,
    /// reused for the manifest, the config and every layer; no credentials sent to AUTH.
    @Test func anonymousBearer() async throws {
        try await withFakeEnvironment { env in
            let auth = try await env.server("127.0.0.2", [Route("GET", "/token", .json(#"{"token":"T","expires_in":300}"#))])
            let multi = FakeImage.make(layerSizes: [100, 200, 300])
            var routes = multi.routes()
            routes[0] = Route("*", "/v2/", .json("{}", status: 401, headers: [("WWW-Authenticate", #"Bearer realm="\#(auth.url)/token",service="reg",scope="repository:lib/a:pull""#)]))
            let reg = try await env.server("127.0.0.1", routes)
            try await env.withClient { client in
                let ref = try ImageReference(parsing: "\(reg.name)/lib/a:1")
                let resolved = try await client.resolve(ref)
                try await SlidingWindow.forEach(resolved.layers, limit: 3) { layer in
                    _ = try await drain(client.fetchBlob(ref, descriptor: layer))
                }
            }
            let tokenRequests = auth.requests()
            #expect(tokenRequests.count == 1)
            #expect(tokenRequests.first?.path == "/token?service=reg&scope=repository%3Alib%2Fa%3Apull")
            #expect(tokenRequests.first?.header("Authorization") == nil)
            let repoRequests = reg.requests().filter { $0.path != "/v2/" }
            #expect(repoRequests.count == 5)
            #expect(repoRequests.allSatisfy { $0.header("Authorization") == "Bearer T" })
        }
    }

    /// R5: a 401 mid-pull gets one new token and one retry; a second 401 is an error, not a loop.
    @Test(arguments: [true, false])
    func refreshOn401(recovers: Bool) async throws {
        try await withFakeEnvironment { env in
            let auth = try await env.server("127.0.0.2", [Route("GET", "/token", .json(#"{"token":"T1"}"#), .json(#"{"token":"T2"}"#), .json(#"{"token":"T3"}"#))])
            let challenge = ("WWW-Authenticate", #"Bearer realm="\#(auth.url)/token",service="reg",error="invalid_token""#)
            let two = FakeImage.make(layerSizes: [100, 200])
            var routes = two.routes()
            routes[0] = Route("*", "/v2/", .json("{}", status: 401, headers: [challenge]))
            let blob2 = "/v2/lib/a/blobs/\(two.layerDigests[1])"
            routes.insert(recovers ? Route("GET", blob2, .json("{}", status: 401, headers: [challenge]), .bytes(two.layers[1]))
                                   : Route("GET", blob2, .json("{}", status: 401, headers: [challenge])), at: 0)
            let reg = try await env.server("127.0.0.1", routes)
            let ref = try ImageReference(parsing: "\(reg.name)/lib/a:1")
            try await env.withClient { client in
                _ = try await drain(client.fetchBlob(ref, descriptor: two.layerDescriptor(0)))
                if recovers {
                    #expect(try await drain(client.fetchBlob(ref, descriptor: two.layerDescriptor(1))) == two.layers[1])
                } else {
                    await #expect { try await drain(client.fetchBlob(ref, descriptor: two.layerDescriptor(1))) } throws: { errorCode($0) == .auth }
                }
            }
            let blob2Requests = reg.requests().filter { $0.path == blob2 }
            #expect(blob2Requests.map { $0.header("Authorization") } == ["Bearer T1", "Bearer T2"])
            #expect(auth.requests().count == 2)
        }
    }

    /// R6: insufficient_scope → a token for every scope (scope repeated), then one retry.
    @Test func insufficientScope() async throws {
        try await withFakeEnvironment { env in
            let auth = try await env.server("127.0.0.2", [Route("GET", "/token", .json(#"{"token":"T1"}"#), .json(#"{"token":"T2"}"#))])
            var routes = image.routes()
            routes[0] = Route("*", "/v2/", .json("{}", status: 401, headers: [("WWW-Authenticate", #"Bearer realm="\#(auth.url)/token",service="reg""#)]))
            routes[1] = Route("*", "/v2/lib/a/manifests/1",
                              .json("{}", status: 401, headers: [("WWW-Authenticate", #"Bearer realm="\#(auth.url)/token",service="reg",scope="repository:lib/a:pull repository:lib/base:pull",error="insufficient_scope""#)]),
                              image.manifestReply)
            let reg = try await env.server("127.0.0.1", routes)
            let fetched = try await env.withClient { try await $0.fetchManifest(ImageReference(parsing: "\(reg.name)/lib/a:1")) }
            #expect(fetched.digest == image.manifestDigest)
            let tokens = auth.requests().map(\.path)
            #expect(tokens.count == 2)
            #expect(tokens.last == "/token?service=reg&scope=repository%3Alib%2Fa%3Apull&scope=repository%3Alib%2Fbase%3Apull")
            #expect(reg.requests().filter { $0.path == "/v2/lib/a/manifests/1" }.map { $0.header("Authorization") } == ["Bearer T1", "Bearer T2"])
        }
    }

    /// R7: the token server grants less than asked; REG keeps answering 401 → one clear error, no loop.
    @Test func tokenGrantsLess() async throws {
        try await withFakeEnvironment { env in
            let auth = try await env.server("127.0.0.2", [Route("GET", "/token", .json(#"{"token":"EMPTY"}"#))])
            let challenge = ("WWW-Authenticate", #"Bearer realm="\#(auth.url)/token",service="reg",scope="repository:lib/a:pull""#)
            let reg = try await env.server("127.0.0.1", [
                Route("*", "/v2/", .json("{}", status: 401, headers: [challenge])),
                Route("*", prefix: "/v2/lib/a/", .json(#"{"errors":[{"code":"UNAUTHORIZED"}]}"#, status: 401, headers: [challenge])),
            ])
            await #expect {
                try await env.withClient { try await $0.fetchManifest(ImageReference(parsing: "\(reg.name)/lib/a:1")) }
            } throws: { error in
                let e = error as? ImgsyncError
                return e?.code == .auth && e?.message == "pull access denied for \(reg.name)/lib/a:1 (not authenticated, or the repository does not exist)"
            }
            #expect(reg.requests().filter { $0.path != "/v2/" }.count == 2)
            #expect(auth.requests().count <= 2)
        }
    }

    /// R8: Basic auth with configured credentials, wrong credentials, and none.
    @Test func basicAuth() async throws {
        try await withFakeEnvironment { env in
            let basic = ("WWW-Authenticate", #"Basic realm="reg""#)
            let good = "Basic " + Data("u:p".utf8).base64EncodedString()
            var routes = image.routes()
            routes[0] = Route("*", "/v2/", .json("{}", status: 401, headers: [basic]))
            let reg = try await env.server("127.0.0.1", routes)
            let ref = try ImageReference(parsing: "\(reg.name)/lib/a:1")
            let creds = StaticCredentials([reg.name: .basic(username: "u", password: "p")])
            _ = try await env.withClient(credentials: creds) { try await $0.fetchManifest(ref) }
            #expect(reg.requests().filter { $0.path.contains("manifests") }.map { $0.header("Authorization") } == [good])

            let wrong = try await env.server("127.0.0.1", [Route("*", prefix: "/v2/", .json("{}", status: 401, headers: [basic]))])
            let wrongRef = try ImageReference(parsing: "\(wrong.name)/lib/a:1")
            await #expect {
                try await env.withClient(credentials: StaticCredentials([wrong.name: .basic(username: "u", password: "bad")])) { try await $0.fetchManifest(wrongRef) }
            } throws: { error in
                let e = error as? ImgsyncError
                return e?.code == .auth && e?.message.contains(wrong.name) == true && e?.message.contains("rejected") == true
            }
            await #expect {
                try await env.withClient { try await $0.fetchManifest(wrongRef) }
            } throws: { error in
                let e = error as? ImgsyncError
                return e?.code == .auth && e?.message.contains("none are configured") == true
            }
            // Wrong: one try + one retry. None: a single try, not an anonymous loop.
            #expect(wrong.requests().filter { $0.path.contains("manifests") }.count == 3)
        }
    }

    /// R9 A: credentials → OAuth2 POST (password grant), later tokens use the refresh token.
    @Test func oauthPasswordThenRefresh() async throws {
        try await withFakeEnvironment { env in
            let auth = try await env.server("127.0.0.2", [Route("POST", "/token",
                .json(#"{"access_token":"A1","refresh_token":"R1","expires_in":300}"#),
                .json(#"{"access_token":"A2","expires_in":300}"#))])
            let challenge = ("WWW-Authenticate", #"Bearer realm="\#(auth.url)/token",service="reg""#)
            var routes = image.routes()
            routes[0] = Route("*", "/v2/", .json("{}", status: 401, headers: [challenge]))
            routes[1] = Route("*", "/v2/lib/a/manifests/1", image.manifestReply, .json("{}", status: 401, headers: [challenge]), image.manifestReply)
            let reg = try await env.server("127.0.0.1", routes)
            let ref = try ImageReference(parsing: "\(reg.name)/lib/a:1")
            try await env.withClient(credentials: StaticCredentials([reg.name: .basic(username: "u", password: "p w")])) { client in
                _ = try await client.fetchManifest(ref)
                _ = try await client.fetchManifest(ref)
            }
            let posts = auth.requests()
            #expect(posts.count == 2)
            let first = Set(posts[0].body.split(separator: "&").map(String.init))
            #expect(first.isSuperset(of: ["grant_type=password", "username=u", "password=p%20w", "service=reg", "client_id=imgsync",
                                          "scope=repository%3Alib%2Fa%3Apull", "access_type=offline"]))
            let second = Set(posts[1].body.split(separator: "&").map(String.init))
            #expect(second.isSuperset(of: ["grant_type=refresh_token", "refresh_token=R1", "service=reg"]))
            #expect(!posts[1].body.contains("password=p"))
            #expect(reg.requests().filter { $0.path.contains("manifests") }.map { $0.header("Authorization") } == ["Bearer A1", "Bearer A1", "Bearer A2"])
        }
    }

    /// R9 B: POST answered 404 → GET with Basic.
    @Test func oauthPostNotSupported() async throws {
        try await withFakeEnvironment { env in
            let auth = try await env.server("127.0.0.2", [
                Route("POST", "/token", .json("{}", status: 404)),
                Route("GET", "/token", .json(#"{"token":"G"}"#)),
            ])
            var routes = image.routes()
            routes[0] = Route("*", "/v2/", .json("{}", status: 401, headers: [("WWW-Authenticate", #"Bearer realm="\#(auth.url)/token",service="reg""#)]))
            let reg = try await env.server("127.0.0.1", routes)
            _ = try await env.withClient(credentials: StaticCredentials([reg.name: .basic(username: "u", password: "p")])) {
                try await $0.fetchManifest(ImageReference(parsing: "\(reg.name)/lib/a:1"))
            }
            let log = auth.requests()
            #expect(log.map(\.method) == ["POST", "GET"])
            #expect(log.last?.header("Authorization") == "Basic " + Data("u:p".utf8).base64EncodedString())
            #expect(reg.requests().last?.header("Authorization") == "Bearer G")
        }
    }

    /// R13: an http realm, or a link-local one, is refused before any token request.
    @Test func unsafeRealms() async throws {
        try await withFakeEnvironment { env in
            let auth = try await env.server("127.0.0.2", [Route("*", "/token", .json(#"{"token":"T"}"#))])
            for realm in ["http://127.0.0.2:\(auth.port)/token", "https://169.254.169.254/token"] {
                let reg = try await env.server("127.0.0.1", [Route("*", prefix: "/v2/", .json("{}", status: 401, headers: [("WWW-Authenticate", #"Bearer realm="\#(realm)""#)]))])
                await #expect {
                    try await env.withClient(credentials: StaticCredentials([reg.name: .basic(username: "u", password: "p")])) {
                        try await $0.fetchManifest(ImageReference(parsing: "\(reg.name)/lib/a:1"))
                    }
                } throws: { errorCode($0) == .authChallenge || errorCode($0) == .forbiddenTarget }
            }
            #expect(auth.requests().isEmpty)
        }
    }
}

/// R4 and R10 in the client: token expiry with an injected clock; `identitytoken` uses the refresh grant.
@Suite(.timeLimit(.minutes(2))) struct TokenLifecycleTests {
    let image = FakeImage.make()

    @Test func expiredTokenIsReplacedBeforeUse() async throws {
        try await withFakeEnvironment { env in
            let issued = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: 1_700_000_000 - 50))
            let auth = try await env.server("127.0.0.2", [Route("GET", "/token",
                .json(#"{"token":"T1","expires_in":60,"issued_at":"\#(issued)"}"#), .json(#"{"token":"T2","expires_in":300}"#))])
            var routes = image.routes()
            routes[0] = Route("*", "/v2/", .json("{}", status: 401, headers: [("WWW-Authenticate", #"Bearer realm="\#(auth.url)/token",service="reg""#)]))
            let reg = try await env.server("127.0.0.1", routes)
            let clock = Mutex(Date(timeIntervalSince1970: 1_700_000_000))
            let ref = try ImageReference(parsing: "\(reg.name)/lib/a:1")
            try await env.withClient({ config in config.now = { clock.withLock { $0 } } }) { (client: RegistryClient) async throws in
                _ = try await client.fetchManifest(ref)
                clock.withLock { $0 = $0.addingTimeInterval(5) }
                _ = try await client.fetchManifest(ref)
                clock.withLock { $0 = $0.addingTimeInterval(10) }  // +15 s: past issued_at + 60
                _ = try await client.fetchManifest(ref)
            }
            #expect(auth.requests().count == 2)
            #expect(reg.requests().filter { $0.path.contains("manifests") }.map { $0.header("Authorization") } == ["Bearer T1", "Bearer T1", "Bearer T2"])
        }
    }

    @Test func identityTokenUsesRefreshGrant() async throws {
        try await withFakeEnvironment { env in
            let auth = try await env.server("127.0.0.2", [Route("POST", "/token", .json(#"{"access_token":"A"}"#))])
            var routes = image.routes()
            routes[0] = Route("*", "/v2/", .json("{}", status: 401, headers: [("WWW-Authenticate", #"Bearer realm="\#(auth.url)/token",service="reg""#)]))
            let reg = try await env.server("127.0.0.1", routes)
            _ = try await env.withClient(credentials: StaticCredentials([reg.name: .identityToken("R")])) {
                try await $0.fetchManifest(ImageReference(parsing: "\(reg.name)/lib/a:1"))
            }
            let body = Set((auth.requests().first?.body ?? "").split(separator: "&").map(String.init))
            #expect(body.isSuperset(of: ["grant_type=refresh_token", "refresh_token=R", "service=reg", "client_id=imgsync"]))
            #expect(reg.requests().last?.header("Authorization") == "Bearer A")
        }
    }

    /// A token server's 503 is retried like a registry's.
    @Test func tokenServerHiccup() async throws {
        try await withFakeEnvironment { env in
            let auth = try await env.server("127.0.0.2", [Route("GET", "/token", Reply(503, body: "busy"), .json(#"{"token":"T"}"#))])
            var routes = image.routes()
            routes[0] = Route("*", "/v2/", .json("{}", status: 401, headers: [("WWW-Authenticate", #"Bearer realm="\#(auth.url)/token""#)]))
            let reg = try await env.server("127.0.0.1", routes)
            _ = try await env.withClient { try await $0.fetchManifest(ImageReference(parsing: "\(reg.name)/lib/a:1")) }
            #expect(auth.requests().count == 2)
            #expect(reg.requests().last?.header("Authorization") == "Bearer T")
        }
    }
}
