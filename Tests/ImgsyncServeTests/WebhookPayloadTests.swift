import Foundation
import ImgsyncServe
import Testing

@Suite struct WebhookPayloadTests {
    func pushes(_ json: String) throws -> [RegistryPush] {
        try WebhookPayload.pushes(from: Array(json.utf8))
    }

    /// What distribution 2.8 sends for `skopeo copy` of one tag: blob pushes, then the manifest.
    @Test func distributionEnvelopeKeepsOnlyManifestPushes() throws {
        let body = """
        {"events":[
         {"id":"1","timestamp":"2026-12-07T11:00:00Z","action":"push",
          "target":{"mediaType":"application/octet-stream","size":12,"digest":"sha256:\(String(repeating: "a", count: 64))",
                    "repository":"org/app","url":"https://127.0.0.1:5000/v2/org/app/blobs/sha256:aa"},
          "request":{"id":"r","addr":"127.0.0.1:1234","host":"127.0.0.1:5000","method":"PUT","useragent":"skopeo"},
          "actor":{},"source":{"addr":"h:5000","instanceID":"i"}},
         {"id":"2","action":"push",
          "target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":400,
                    "digest":"sha256:\(String(repeating: "b", count: 64))","repository":"org/app","tag":"v2.1"},
          "request":{"host":"127.0.0.1:5000"}},
         {"id":"3","action":"pull","target":{"repository":"org/app","tag":"v1"},"request":{"host":"127.0.0.1:5000"}}
        ]}
        """
        let result = try pushes(body)
        #expect(result.count == 1)
        #expect(result.first?.registry == "127.0.0.1:5000")
        #expect(result.first?.repository == "org/app")
        #expect(result.first?.tag == "v2.1")
        #expect(result.first?.digest == "sha256:" + String(repeating: "b", count: 64))
    }

    @Test func distributionPushByDigestOfAManifestIsKept() throws {
        let digest = "sha256:" + String(repeating: "c", count: 64)
        let result = try pushes("""
        {"events":[{"action":"push","target":{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"\(digest)",
          "repository":"org/app"},"request":{"host":"Registry.Example.org:443"}}]}
        """)
        #expect(result.map(\.description) == ["registry.example.org/org/app@\(digest)"])
    }

    /// Found by the webhook fuzz target: `Reg:443:443` lost one `:443` when parsed and the other
    /// when the queue file was read back. A host is normalised once and for all, or refused.
    @Test func aHostIsNormalisedOnceAndForAll() throws {
        for host in ["Reg:443:443", "reg:443", "[::1]:443", "reg:5000:443"] {
            let push: RegistryPush
            do {
                push = try RegistryPush(host: host, repository: "a/j", tag: "1", digest: nil)
            } catch is WebhookError {
                continue
            }
            let again = try JSONDecoder().decode(RegistryPush.self, from: try JSONEncoder().encode(push))
            #expect(again == push, "\(host): \(push) reads back as \(again)")
        }
        #expect(try RegistryPush(host: "Reg:443", repository: "a/j", tag: "1", digest: nil).registry == "reg")
    }

    @Test func harborPushArtifact() throws {
        let result = try pushes("""
        {"type":"PUSH_ARTIFACT","occur_at":1700000000,"operator":"admin",
         "event_data":{"resources":[{"digest":"sha256:\(String(repeating: "d", count: 64))","tag":"1.2",
                                     "resource_url":"harbor.example.org/osg/worker:1.2"}],
                       "repository":{"date_created":1,"name":"worker","namespace":"osg","repo_full_name":"osg/worker","repo_type":"public"}}}
        """)
        #expect(result.map(\.registry) == ["harbor.example.org"])
        #expect(result.map(\.repository) == ["osg/worker"])
        #expect(result.map(\.tag) == ["1.2"])
    }

    @Test func harborTagTakenFromTheResourceURL() throws {
        let result = try pushes("""
        {"type":"PUSH_ARTIFACT","event_data":{"resources":[{"resource_url":"h.example:8443/osg/worker:9"}],
         "repository":{"repo_full_name":"osg/worker"}}}
        """)
        #expect(result.map(\.description) == ["h.example:8443/osg/worker:9"])
    }

    @Test func otherHarborEventsAndPullsAreNoPushes() throws {
        #expect(try pushes(#"{"type":"PULL_ARTIFACT","event_data":{}}"#).isEmpty)
        #expect(try pushes(#"{"events":[]}"#).isEmpty)
    }

    @Test(arguments: [
        "",
        "not json",
        "[]",
        #"{"hello":1}"#,
        #"{"events":{}}"#,
        #"{"events":[{"action":"push","target":{"repository":"org/app","tag":"1"}}]}"#,
        #"{"events":[{"action":"push","target":{"tag":"1"},"request":{"host":"r.example"}}]}"#,
        #"{"events":[{"action":"push","target":{"repository":"Org/App","tag":"1"},"request":{"host":"r.example"}}]}"#,
        #"{"events":[{"action":"push","target":{"repository":"org/app","tag":"a b"},"request":{"host":"r.example"}}]}"#,
        #"{"events":[{"action":"push","target":{"repository":"org/app","tag":"1","digest":"md5:x"},"request":{"host":"r.example"}}]}"#,
        #"{"events":[{"action":"push","target":{"repository":"../x","tag":"1"},"request":{"host":"r.example"}}]}"#,
        #"{"events":[{"action":"push","target":{"repository":"org/app","tag":1},"request":{"host":"r.example"}}]}"#,
        #"{"type":"PUSH_ARTIFACT","event_data":{"resources":[],"repository":{"repo_full_name":"a/b"}}}"#,
        #"{"type":"PUSH_ARTIFACT","event_data":{"resources":[{"resource_url":"h.example/other/repo:1"}],"repository":{"repo_full_name":"a/b"}}}"#,
        #"{"type":"PUSH_ARTIFACT","event_data":{"resources":[{"resource_url":"no-slash"}],"repository":{"repo_full_name":"a/b"}}}"#,
        #"{"type":"PUSH_ARTIFACT","event_data":{"resources":[{"resource_url":"h.example/a/bc:1"}],"repository":{"repo_full_name":"a/b"}}}"#,
    ])
    func malformedBodiesAreRejected(_ body: String) {
        #expect(throws: WebhookError.self) { try pushes(body) }
    }

    @Test func tooManyEventsAndTooLargeBodiesAreRejected() {
        let event = #"{"action":"push","target":{"repository":"a/b","tag":"1"},"request":{"host":"r.example"}}"#
        let many = #"{"events":["# + Array(repeating: event, count: WebhookPayload.maxEvents + 1).joined(separator: ",") + "]}"
        #expect(throws: WebhookError.self) { try pushes(many) }
        let large = Array(repeating: UInt8(ascii: " "), count: WebhookPayload.maxBodyBytes + 1)
        #expect(throws: WebhookError.self) { try WebhookPayload.pushes(from: large) }
    }
}
