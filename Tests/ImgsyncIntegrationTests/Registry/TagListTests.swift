import Foundation
import ImgsyncCore
import Testing
@testable import ImgsyncRegistry

/// R47–R49 against a scripted registry.
@Suite(.timeLimit(.minutes(2))) struct TagListTests {
    func list(_ env: FakeEnvironment, _ routes: [Route], pageSize: Int? = nil, logger: LogRecorder? = nil) async throws -> ([String], ScriptedServer) {
        let reg = try await env.server("127.0.0.1", [Route("*", "/v2/", .json("{}"))] + routes)
        let tags = try await env.withClient(logger: logger?.logger ?? .init(label: "test")) {
            try await $0.listTags(registry: reg.name, repository: "lib/a", pageSize: pageSize)
        }
        return (tags, reg)
    }

    /// R47: relative Link URLs are followed in order until there is none.
    @Test func linkPaging() async throws {
        try await withFakeEnvironment { env in
            let (tags, reg) = try await list(env, [
                Route("GET", "/v2/lib/a/tags/list?n=2", .json(#"{"name":"lib/a","tags":["a","b"]}"#, headers: [("Link", #"</v2/lib/a/tags/list?n=2&last=b>; rel="next""#)])),
                Route("GET", "/v2/lib/a/tags/list?n=2&last=b", .json(#"{"name":"lib/a","tags":["c","d"]}"#, headers: [("Link", #"<list?n=2&last=d>; rel="next""#)])),
                Route("GET", "/v2/lib/a/tags/list?n=2&last=d", .json(#"{"name":"lib/a","tags":["e"]}"#)),
            ], pageSize: 2)
            #expect(tags == ["a", "b", "c", "d", "e"])
            #expect(reg.requests().count == 4)
        }
    }

    /// R47: a Link to another host is refused; a repeated URL is a pagination loop.
    @Test func linkAbuse() async throws {
        try await withFakeEnvironment { env in
            await #expect {
                try await list(env, [Route("GET", "/v2/lib/a/tags/list", .json(#"{"tags":["a"]}"#, headers: [("Link", #"<https://127.0.0.3/v2/lib/a/tags/list?last=a>; rel="next""#)]))])
            } throws: { errorCode($0) == .forbiddenTarget }
            await #expect {
                try await list(env, [
                    Route("GET", "/v2/lib/a/tags/list", .json(#"{"tags":["a"]}"#, headers: [("Link", #"</v2/lib/a/tags/list?last=a>; rel="next""#)])),
                    Route("GET", "/v2/lib/a/tags/list?last=a", .json(#"{"tags":["b"]}"#, headers: [("Link", #"</v2/lib/a/tags/list>; rel="next""#)])),
                ])
            } throws: { errorCode($0) == .paginationLoop }
        }
    }

    /// R48: n=0 → empty; without Link, continue with n/last only while the page is full.
    @Test func nAndLast() async throws {
        try await withFakeEnvironment { env in
            let (empty, _) = try await list(env, [Route("GET", "/v2/lib/a/tags/list?n=0", .json(#"{"name":"lib/a","tags":[]}"#))], pageSize: 0)
            #expect(empty.isEmpty)
            let (tags, reg) = try await list(env, [
                Route("GET", "/v2/lib/a/tags/list?n=2", .json(#"{"tags":["a","b"]}"#)),
                Route("GET", "/v2/lib/a/tags/list?n=2&last=b", .json(#"{"tags":["c","d"]}"#)),
                Route("GET", "/v2/lib/a/tags/list?n=2&last=d", .json(#"{"tags":[]}"#)),
            ], pageSize: 2)
            #expect(tags == ["a", "b", "c", "d"])
            #expect(reg.requests().map(\.path).last == "/v2/lib/a/tags/list?n=2&last=d")
            let (partial, reg2) = try await list(env, [Route("GET", "/v2/lib/a/tags/list?n=3", .json(#"{"tags":["a","b"]}"#))], pageSize: 3)
            #expect(partial == ["a", "b"])
            #expect(reg2.requests().count == 2)
        }
    }

    /// R49: invalid tags are dropped with a warning.
    @Test func invalidTags() async throws {
        try await withFakeEnvironment { env in
            let long = String(repeating: "x", count: 129)
            let recorder = LogRecorder()
            let (tags, _) = try await list(env, [Route("GET", "/v2/lib/a/tags/list", .json(#"{"tags":["v1","../../etc","a b","","\#(long)",".hidden"]}"#))], logger: recorder)
            #expect(tags == ["v1"])
            #expect(recorder.messages.contains { $0.contains("ignoring 5 invalid tag(s)") })
        }
    }
}
