import Foundation
@testable import ImgsyncServe
import ImgsyncSync
import Logging
import NIOHTTP1
import Testing

@Suite struct ServeEndpointsTests {
    let body = Array(#"{"type":"PUSH_ARTIFACT","event_data":{"resources":[{"resource_url":"r.example/org/app:1"}],"repository":{"repo_full_name":"org/app"}}}"#.utf8)

    func endpoints(_ access: WebhookAccess) throws -> (ServeEndpoints, ServeScheduler) {
        let list = ImageList.parse(text: "r.example/org/app:1\n", source: "images.txt")
        let scheduler = ServeScheduler(schedule: ServeSchedule(), queue: try PushQueue(path: nil), list: list,
                                       logger: Logger(label: "test"), runner: { _ in SyncRun(status: 0, report: SyncReport(root: "/r", list: "images.txt", started: Date())) })
        return (ServeEndpoints(scheduler: scheduler, access: access, root: "/nonexistent", logger: Logger(label: "test")) { true }, scheduler)
    }

    func post(_ e: ServeEndpoints, authorization: String?, body: [UInt8]) async -> HTTPReply {
        var headers = HTTPHeaders()
        if let authorization { headers.add(name: "Authorization", value: authorization) }
        return await e.handle(HTTPRequest(method: .POST, path: "/webhook", headers: headers, body: body))
    }

    @Test func theTokenIsRequired() async throws {
        let (e, scheduler) = try endpoints(.token(Array("abc".utf8)))
        #expect(await post(e, authorization: nil, body: body).status == .unauthorized)
        #expect(await post(e, authorization: "Bearer abd", body: body).status == .unauthorized)
        #expect(await post(e, authorization: "Bearer abcd", body: body).status == .unauthorized)
        #expect(await post(e, authorization: "Basic abc", body: body).status == .unauthorized)
        #expect(await scheduler.queueDepth == 0)
        #expect(await post(e, authorization: "Bearer abc", body: body).status == .accepted)
        #expect(await scheduler.queueDepth == 1)
    }

    @Test func withoutATokenWebhooksAreRefusedUnlessInsecure() async throws {
        let (refused, _) = try endpoints(.refused)
        #expect(await post(refused, authorization: nil, body: body).status == .forbidden)
        let (open, scheduler) = try endpoints(.open)
        #expect(await post(open, authorization: nil, body: body).status == .accepted)
        #expect(await scheduler.queueDepth == 1)
    }

    @Test func aMalformedEventIs400AndQueuesNothing() async throws {
        let (e, scheduler) = try endpoints(.open)
        #expect(await post(e, authorization: nil, body: Array(#"{"events":[{"action":"push"}]}"#.utf8)).status == .badRequest)
        #expect(await scheduler.queueDepth == 0)
    }

    @Test func healthIs503UntilAScheduledRunFinished() async throws {
        let (e, scheduler) = try endpoints(.open)
        #expect(await e.handle(HTTPRequest(method: .GET, path: "/healthz")).status == .serviceUnavailable)
        await scheduler.perform(.full)
        #expect(await e.handle(HTTPRequest(method: .GET, path: "/healthz")).status == .ok)
        let metrics = await e.handle(HTTPRequest(method: .GET, path: "/metrics")).bodyText
        #expect(metrics.contains("imgsync_serve_queue_depth 0\n"))
        #expect(metrics.contains(#"imgsync_serve_runs{kind="full"} 1"#))
        #expect(await e.handle(HTTPRequest(method: .GET, path: "/nope")).status == .notFound)
    }
}
