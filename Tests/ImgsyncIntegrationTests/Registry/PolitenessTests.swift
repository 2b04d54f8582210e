import Foundation
import Synchronization
import ImgsyncCore
import Testing
@testable import ImgsyncRegistry

/// Politeness to registries (issue 9 item 5) against a scripted registry: at most K requests in
/// flight per registry (a blob download holding its place for its whole body), a request budget per
/// run, `RateLimit-Remaining: 0` stopping a registry, `Retry-After` on 503 (R43).
@Suite(.timeLimit(.minutes(3))) struct PolitenessTests {
    /// Six layers, so six blob downloads can be asked for at once.
    let image = FakeImage.make(layerSizes: [4000, 4001, 4002, 4003, 4004, 4005])

    /// Routes for `image` whose blob answers stall `stall` seconds after their first 100 bytes.
    func stallingRoutes(_ stall: Double) -> [Route] {
        var routes = [Route("*", "/v2/", .json("{}"))]
        for (i, layer) in image.layers.enumerated() {
            routes.append(Route("GET", "/v2/lib/a/blobs/\(image.layerDigests[i])", Reply.bytes(layer).with {
                $0.stall_after = 100
                $0.stall_seconds = stall
            }))
        }
        return routes
    }

    /// Downloads every layer of `image` at once; returns them in order.
    func pullAll(_ client: RegistryClient, _ ref: ImageReference) async throws -> [[UInt8]] {
        try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for i in image.layers.indices {
                group.addTask { (i, try await drain(client.fetchBlob(ref, descriptor: image.layerDescriptor(i)))) }
            }
            var out = [[UInt8]](repeating: [], count: image.layers.count)
            for try await (i, bytes) in group { out[i] = bytes }
            return out
        }
    }

    /// The most blob requests the server was answering at once.
    func peakBlobRequests(_ server: ScriptedServer) -> Int {
        server.requests().filter { $0.path.contains("/blobs/") }.compactMap(\.inflight).max() ?? 0
    }

    /// `--registry-concurrency 2`: six layer downloads asked for at once reach the registry two at a
    /// time, each holding its place until its body is read. The same downloads without the limit
    /// overlap more than two, so the counter does see concurrency.
    @Test func concurrencyLimitHoldsForWholeBodies() async throws {
        try await withFakeEnvironment { env in
            let limited = try await env.server("127.0.0.1", stallingRoutes(0.5))
            let ref = try ImageReference(parsing: "\(limited.name)/lib/a:1")
            let (bytes, clientPeak) = try await env.withClient({ $0.defaultLimits.concurrency = 2 }) { client in
                (try await pullAll(client, ref), client.peakConcurrency(limited.name))
            }
            #expect(bytes == image.layers)
            #expect(limited.requests().filter { $0.path.contains("/blobs/") }.count == 6)
            #expect(peakBlobRequests(limited) <= 2)
            #expect(peakBlobRequests(limited) == 2, "two downloads should have overlapped")
            #expect(clientPeak == 2)

            // Control: a limit of 6 lets them overlap (the stall is long enough for several to meet).
            let open = try await env.server("127.0.0.1", stallingRoutes(2))
            let openRef = try ImageReference(parsing: "\(open.name)/lib/a:1")
            let openBytes = try await env.withClient({ $0.defaultLimits.concurrency = 6 }) { try await pullAll($0, openRef) }
            #expect(openBytes == image.layers)
            #expect(peakBlobRequests(open) > 2)
        }
    }

    /// A per-registry override applies to its registry only.
    @Test func perRegistryOverride() async throws {
        try await withFakeEnvironment { env in
            let strict = try await env.server("127.0.0.1", stallingRoutes(0.3))
            let ref = try ImageReference(parsing: "\(strict.name)/lib/a:1")
            let peak = try await env.withClient({
                $0.defaultLimits.concurrency = 6
                $0.registryLimits[strict.name] = RegistryLimits(concurrency: 1)
            }) { client in
                _ = try await pullAll(client, ref)
                return client.peakConcurrency(strict.name)
            }
            #expect(peak == 1)
            #expect(peakBlobRequests(strict) == 1)
        }
    }

    /// A budget of 4 requests: ping, HEAD, GET manifest, GET config are sent; the layer is not, nor
    /// anything after: `.budgetSpent` at once, the registry's log shows 4 requests, the traffic
    /// figures say why. `beginRun()` (a new run of `imgsync serve`) fills the budget again.
    @Test func requestBudgetStopsAskingTheRegistry() async throws {
        try await withFakeEnvironment { env in
            let reg = try await env.server("127.0.0.1", image.routes())
            let ref = try ImageReference(parsing: "\(reg.name)/lib/a:1")
            try await env.withClient({ $0.defaultLimits.requestBudget = 4 }) { client in
                _ = try await client.headManifest(ref)
                let manifest = try await client.fetchManifest(ref)
                #expect(manifest.digest == image.manifestDigest)
                _ = try await drain(client.fetchBlob(registry: reg.name, repository: "lib/a",
                                                     descriptor: Descriptor(mediaType: MediaType.ociConfig, digest: image.configDigest, size: Int64(image.config.count))))
                #expect(client.stoppedRegistries.isEmpty, "the budget is spent, but nothing was refused yet")
                let layer = await #expect(throws: ImgsyncError.self) { try await drain(client.fetchBlob(ref, descriptor: image.layerDescriptor(0))) }
                #expect(layer?.code == .budgetSpent)
                #expect(layer?.message.contains("request budget of 4 spent") == true, "\(layer?.message ?? "")")
                #expect(layer?.message.contains(reg.name) == true)
                let head = await #expect(throws: ImgsyncError.self) { try await client.headManifest(ref) }
                #expect(head?.code == .budgetSpent)
                #expect(reg.requests().count == 4)
                let traffic = try #require(client.traffic[reg.name])
                #expect(traffic.total == 4)
                #expect(traffic.stopped == "request budget of 4 spent")
                #expect(traffic.refused == 2)

                client.beginRun()
                #expect(client.stoppedRegistries.isEmpty)
                _ = try await client.headManifest(ref)
                #expect(reg.requests().count == 5)
            }
        }
    }

    /// Token requests are taken from the registry's budget too.
    @Test func tokenRequestsCountAgainstTheBudget() async throws {
        try await withFakeEnvironment { env in
            let auth = try await env.server("127.0.0.2", [Route("GET", "/token", .json(#"{"token":"T"}"#))])
            var routes = image.routes()
            routes[0] = Route("*", "/v2/", .json("{}", status: 401, headers: [("WWW-Authenticate", #"Bearer realm="\#(auth.url)/token",service="reg""#)]))
            let reg = try await env.server("127.0.0.1", routes)
            let ref = try ImageReference(parsing: "\(reg.name)/lib/a:1")
            // ping (1), token (2): the HEAD would be the third.
            let error = await #expect(throws: ImgsyncError.self) {
                try await env.withClient({ $0.defaultLimits.requestBudget = 2 }) { try await $0.headManifest(ref) }
            }
            #expect(error?.code == .budgetSpent)
            #expect(auth.requests().count == 1)
            #expect(reg.requests().map(\.path) == ["/v2/"])
        }
    }

    /// `RateLimit-Remaining: 0` (Docker Hub's `ratelimit-remaining: 0;w=21600` form) without a
    /// Retry-After: the answer is used, then the registry gets nothing more in this run. A count
    /// above 0 changes nothing.
    @Test func rateLimitRemainingZeroStopsTheRegistry() async throws {
        try await withFakeEnvironment { env in
            let exhausted = image.manifestReply.with { $0.headers.append(["ratelimit-remaining", "0;w=21600"]) }
            let reg = try await env.server("127.0.0.1", [
                Route("*", "/v2/", .json("{}")),
                Route("HEAD", "/v2/lib/a/manifests/1", exhausted),
                Route("HEAD", "/v2/lib/a/manifests/2", image.manifestReply),
            ])
            let log = LogRecorder()
            try await env.withClient(logger: log.logger) { client in
                let head = try await client.headManifest(ImageReference(parsing: "\(reg.name)/lib/a:1"))
                #expect(head.digest == image.manifestDigest)
                let second = await #expect(throws: ImgsyncError.self) {
                    try await client.headManifest(ImageReference(parsing: "\(reg.name)/lib/a:2"))
                }
                #expect(second?.code == .budgetSpent)
                #expect(second?.message.contains("ratelimit-remaining: 0;w=21600") == true, "\(second?.message ?? "")")
                #expect(client.traffic[reg.name]?.stopped?.contains("ratelimit-remaining: 0;w=21600") == true)
            }
            #expect(reg.requests().filter { $0.path.contains("/manifests/") }.count == 1)
            #expect(log.messages.contains { $0.contains("has no requests left") })

            let plenty = image.manifestReply.with { $0.headers.append(["RateLimit-Remaining", "5;w=21600"]) }
            let fine = try await env.server("127.0.0.1", [Route("*", "/v2/", .json("{}")), Route("HEAD", prefix: "/v2/lib/a/manifests/", plenty)])
            try await env.withClient { client in
                for tag in ["1", "2", "3"] { _ = try await client.headManifest(ImageReference(parsing: "\(fine.name)/lib/a:\(tag)")) }
                #expect(client.stoppedRegistries.isEmpty)
            }
        }
    }

    /// R43: a 503 with Retry-After is waited out as a 429 is (not the shorter backoff); one whose
    /// Retry-After exceeds the wait cap fails at once without hammering.
    @Test func retryAfterOn503() async throws {
        try await withFakeEnvironment { env in
            let busy = Reply(503, headers: [("Retry-After", "7")], body: "maintenance")
            let reg = try await env.server("127.0.0.1", [
                Route("*", "/v2/", .json("{}")),
                Route("GET", "/v2/lib/a/blobs/\(image.layerDigests[0])", busy, .bytes(image.layers[0])),
                Route("GET", "/v2/lib/a/blobs/\(image.layerDigests[1])", Reply(503, headers: [("Retry-After", "3600")])),
            ])
            let ref = try ImageReference(parsing: "\(reg.name)/lib/a:1")
            let waits = Mutex<[Duration]>([])
            try await env.withClient({
                $0.sleep = { d in waits.withLock { $0.append(d) } }
                $0.maxRateLimitWait = .seconds(60)
            }) { client in
                let bytes = try await drain(client.fetchBlob(ref, descriptor: image.layerDescriptor(0)))
                #expect(bytes == image.layers[0])
                #expect(waits.withLock { $0 } == [.seconds(7)])
                let error = await #expect(throws: ImgsyncError.self) { try await drain(client.fetchBlob(ref, descriptor: image.layerDescriptor(1))) }
                #expect(error?.code == .server)
                #expect(error?.message.contains("Retry-After 3600") == true, "\(error?.message ?? "")")
            }
            #expect(reg.requests().filter { $0.path.hasSuffix(image.layerDigests[1].description) }.count == 1)
        }
    }
}
