import ImgsyncCore
import Testing
@testable import ImgsyncRegistry

@Suite struct NetworkPolicyTests {
    func allowed(_ host: String, registry: String, policy: NetworkPolicy = NetworkPolicy()) -> Bool {
        (try? policy.check(host: host, registryHost: registry, purpose: "test")) != nil
    }

    /// R13, R39: special addresses only when they are the registry's own or allow-listed.
    @Test func targets() {
        #expect(allowed("auth.example.com", registry: "reg.example.com"))
        #expect(allowed("8.8.8.8", registry: "reg.example.com"))
        #expect(!allowed("169.254.169.254", registry: "reg.example.com"))
        #expect(!allowed("169.254.169.254", registry: "10.0.0.1"))
        #expect(!allowed("127.0.0.9", registry: "127.0.0.1"))
        #expect(!allowed("10.1.2.3", registry: "reg.example.com"))
        #expect(!allowed("192.168.1.1", registry: "reg.example.com"))
        #expect(!allowed("172.20.0.1", registry: "reg.example.com"))
        #expect(!allowed("[::1]", registry: "reg.example.com"))
        #expect(!allowed("[fe80::1]", registry: "reg.example.com"))
        #expect(!allowed("0.0.0.0", registry: "reg.example.com"))
        #expect(!allowed("localhost", registry: "reg.example.com"))
        #expect(allowed("127.0.0.1", registry: "127.0.0.1"))
        #expect(allowed("127.0.0.3", registry: "127.0.0.1", policy: NetworkPolicy(allowedHosts: ["127.0.0.3"])))
        #expect(allowed("169.254.169.254", registry: "x", policy: NetworkPolicy(allowedHosts: ["169.254.169.254"])))
    }

    /// R13: realm URLs.
    @Test func realms() async throws {
        try await RegistryClient.withClient { (client: RegistryClient) async throws in
            #expect(try client.validatedRealm("https://auth.example/token", registry: "reg.example").absoluteString == "https://auth.example/token")
            #expect(try client.validatedRealm("/token", registry: "reg.example:5443").absoluteString == "https://reg.example:5443/token")
            #expect { try client.validatedRealm("http://127.0.0.2/token", registry: "127.0.0.1:5443") } throws: {
                ($0 as? ImgsyncError)?.code == .authChallenge
            }
            #expect { try client.validatedRealm("http://auth.example/token", registry: "reg.example") } throws: {
                ($0 as? ImgsyncError)?.code == .authChallenge
            }
            #expect { try client.validatedRealm("https://169.254.169.254/", registry: "reg.example") } throws: {
                ($0 as? ImgsyncError)?.code == .forbiddenTarget
            }
            #expect { try client.validatedRealm("ftp://x/", registry: "reg.example") } throws: { $0 is ImgsyncError }
        }
    }

    @Test func backoffGrowsAndIsCapped() {
        var config = RegistryClientConfiguration()
        config.jitter = { 1 }
        config.retryBaseDelay = .seconds(1)
        config.maxRetryDelay = .seconds(5)
        #expect(config.backoff(attempt: 1) == .seconds(1))
        #expect(config.backoff(attempt: 2) == .seconds(2))
        #expect(config.backoff(attempt: 4) == .seconds(5))
        config.jitter = { 0 }
        #expect(config.backoff(attempt: 2) == .seconds(1))
    }
}
