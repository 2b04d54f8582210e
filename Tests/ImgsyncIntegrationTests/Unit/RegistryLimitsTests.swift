import Foundation
import ImgsyncCore
import NIOHTTP1
import Testing
@testable import ImgsyncRegistry

/// The pure parts of registry politeness: `--registry-limit` values, `RateLimit-Remaining`, and the
/// gate's places and budget.
@Suite struct RegistryLimitsTests {
    let defaults = RegistryLimits(concurrency: 4, requestBudget: nil)

    @Test func registryLimitOverrides() throws {
        let both = try RegistryLimits.parseOverride("registry.example.org=concurrency:2,requests:300", defaults: defaults)
        #expect(both.registry == "registry.example.org")
        #expect(both.limits == RegistryLimits(concurrency: 2, requestBudget: 300))
        // Either key alone keeps the other from the defaults; requests:0 is no budget.
        #expect(try RegistryLimits.parseOverride("Quay.IO=requests:50", defaults: defaults) == ("quay.io", RegistryLimits(concurrency: 4, requestBudget: 50)))
        #expect(try RegistryLimits.parseOverride("h:5000=concurrency:1", defaults: RegistryLimits(concurrency: 4, requestBudget: 9)).limits
                == RegistryLimits(concurrency: 1, requestBudget: 9))
        #expect(try RegistryLimits.parseOverride("h=requests:0", defaults: RegistryLimits(requestBudget: 9)).limits.requestBudget == nil)
        // Docker Hub's API host and index names are docker.io, as in references.
        for host in ["registry-1.docker.io", "index.docker.io", "docker.io", "DOCKER.IO"] {
            #expect(try RegistryLimits.parseOverride("\(host)=concurrency:2", defaults: defaults).registry == "docker.io")
        }
        for bad in ["docker.io", "=concurrency:2", "h=", "h=concurrency", "h=concurrency:0", "h=concurrency:-1", "h=requests:x",
                    "h=speed:3", "h=concurrency:2,", "a/b=requests:1", "h=requests:99999999999999999999"] {
            #expect(throws: ImgsyncError.self, "\(bad)") { try RegistryLimits.parseOverride(bad, defaults: defaults) }
        }
        var config = RegistryClientConfiguration()
        config.defaultLimits = RegistryLimits(concurrency: 3, requestBudget: 10)
        config.registryLimits["docker.io"] = RegistryLimits(concurrency: 1, requestBudget: nil)
        #expect(config.limits(for: "docker.io") == RegistryLimits(concurrency: 1, requestBudget: nil))
        #expect(config.limits(for: "ghcr.io") == RegistryLimits(concurrency: 3, requestBudget: 10))
    }

    @Test func rateLimitRemaining() {
        func remaining(_ pairs: [(String, String)]) -> Int? { HeaderParsing.rateLimitRemaining(HTTPHeaders(pairs))?.count }
        #expect(remaining([("ratelimit-remaining", "0;w=21600")]) == 0)
        #expect(remaining([("RateLimit-Remaining", "76;w=21600")]) == 76)
        #expect(remaining([("RateLimit-Remaining", " 0 ")]) == 0)
        #expect(remaining([("X-RateLimit-Remaining", "0")]) == 0)
        #expect(HeaderParsing.rateLimitRemaining(HTTPHeaders([("ratelimit-remaining", "0;w=21600")]))?.header == "ratelimit-remaining: 0;w=21600")
        #expect(remaining([("RateLimit-Remaining", "-1")]) == nil)
        #expect(remaining([("RateLimit-Remaining", "none")]) == nil)
        #expect(remaining([("RateLimit-Remaining", "")]) == nil)
        #expect(remaining([("RateLimit-Remaining", String(repeating: "9", count: 40))]) == nil)
        #expect(remaining([("RateLimit-Limit", "100")]) == nil)
        // The IETF draft's single field: policies with r= (draft 8 on), or remaining= (earlier).
        #expect(remaining([("RateLimit", #""default";r=0;t=30"#)]) == 0)
        #expect(remaining([("RateLimit", #""day";r=50;t=3600, "burst";r=2;t=1"#)]) == 2)
        #expect(remaining([("RateLimit", "limit=100, remaining=0, reset=30")]) == 0)
        #expect(remaining([("ratelimit", "limit=100, remaining=7, reset=30")]) == 7)
        #expect(HeaderParsing.rateLimitRemaining(HTTPHeaders([("RateLimit", #""default";r=0;t=30"#)]))?.header
                == #"ratelimit: "default";r=0;t=30"#)
        #expect(remaining([("RateLimit", #""default";t=30"#)]) == nil)
        #expect(remaining([("RateLimit", #""default";r=-1"#)]) == nil)
        #expect(remaining([("RateLimit", #""default";r=lots"#)]) == nil)
        #expect(remaining([("RateLimit", "limit=100, reset=30")]) == nil)
        // The older separate field wins when both are sent.
        #expect(remaining([("RateLimit-Remaining", "9"), ("RateLimit", #""default";r=0"#)]) == 9)
    }

    /// A place freed between a request's first look (none free) and its joining the line is taken,
    /// not waited for forever: requests against one place, each released at once, all finish.
    /// (The lost wake-up hung the release test run once. The race is rare: 8 × 2,000 requests
    /// caught it one run in three before the fix; this smaller run catches it less often.)
    @Test func aPlaceFreedWhileARequestJoinsTheLineIsNotLost() async throws {
        let gate = RegistryGate(registry: "r.example", limits: RegistryLimits(concurrency: 1, requestBudget: nil))
        let finished = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await withThrowingTaskGroup(of: Void.self) { requests in
                    // Small: the yields queue behind every other test's jobs on the two cooperative
                    // threads, and a larger run (8 × 2,000) starved the timing-sensitive fault tests.
                    for _ in 0..<4 {
                        requests.addTask {
                            for i in 0..<300 {
                                let slot = try await gate.acquire()
                                // Sometimes a pause while holding it, so the others queue up.
                                if i % 3 == 0 { await Task.yield() }
                                slot.release()
                            }
                        }
                    }
                    try await requests.waitForAll()
                }
                return true
            }
            // Generous: in the full suite the other tests can keep the two cooperative threads busy
            // for minutes (it took 150 s there); alone it takes 0.1 s.
            group.addTask {
                try await Task.sleep(for: .seconds(600))
                return false
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
        #expect(finished, "requests still waiting for a free place after 600 s")
        #expect(gate.peakInFlight == 1)
    }

    /// The gate hands places out first come, first served, never more than its limit; a budget of
    /// 3 lets three requests through and refuses the rest with `.budgetSpent`.
    @Test func gatePlacesAndBudget() async throws {
        let gate = RegistryGate(registry: "r.example", limits: RegistryLimits(concurrency: 2, requestBudget: 3))
        let first = try await gate.acquire()
        let second = try await gate.acquire()
        let third = Task { try await gate.acquire() }
        try await Task.sleep(for: .milliseconds(50))
        #expect(gate.peakInFlight == 2)
        first.release()
        first.release()  // once only
        let got = try await third.value
        #expect(gate.peakInFlight == 2)
        second.release()
        got.release()
        // A waiter that is cancelled leaves the line.
        let holders = [try await gate.acquire(), try await gate.acquire()]
        let waiting = Task { try await gate.acquire() }
        try await Task.sleep(for: .milliseconds(50))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { _ = try await waiting.value }
        holders.forEach { $0.release() }
        // A place dropped without release is released too.
        do { _ = try await gate.acquire() }
        let again = [try await gate.acquire(), try await gate.acquire()]
        again.forEach { $0.release() }

        for i in 1...3 { try gate.spend("request \(i)") }
        let refused = #expect(throws: ImgsyncError.self) { try gate.spend("request 4") }
        #expect(refused?.code == .budgetSpent)
        #expect(refused?.message.contains("request budget of 3 spent") == true)
        #expect(throws: ImgsyncError.self) { try gate.checkOpen("request 5") }
        #expect(gate.stopped == RegistryStop(reason: "request budget of 3 spent", refused: 2))
        gate.reset()
        try gate.spend("new run")
        #expect(gate.stopped == nil)
    }
}
