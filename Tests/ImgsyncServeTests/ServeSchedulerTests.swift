import Foundation
@testable import ImgsyncServe
import ImgsyncSync
import Logging
import Synchronization
import Testing

/// The scheduler's decisions at given times (no clocks: `due(_:)` is asked about explicit dates).
@Suite struct ServeSchedulerTests {
    let start = Date()
    let list = ImageList.parse(text: "r.example/org/app:v*\nr.example/org/fixed:1\n", source: "images.txt")

    func push(_ repository: String, _ tag: String) throws -> RegistryPush {
        try RegistryPush(host: "r.example", repository: repository, tag: tag, digest: nil)
    }

    /// The pushes of each run the runner was asked for (nil: a full sync).
    final class Calls: Sendable {
        let value = Mutex<[[RegistryPush]?]>([])
        var all: [[RegistryPush]?] { value.withLock { $0 } }
    }

    func scheduler(_ calls: Calls? = nil, status: Int32 = 0) throws -> ServeScheduler {
        var schedule = ServeSchedule()
        schedule.interval = 900
        schedule.initialDelay = 600
        schedule.debounce = 30
        return ServeScheduler(schedule: schedule, queue: try PushQueue(path: nil), list: list, logger: Logger(label: "test"),
                              runner: { pushes in
                                  calls?.value.withLock { $0.append(pushes) }
                                  return SyncRun(status: status, report: status == 2 ? nil : SyncReport(root: "/r", list: "images.txt", started: Date()))
                              }, now: start)
    }

    @Test func unlistedPushesAreIgnoredOnArrival() async throws {
        let s = try scheduler()
        let queued = try await s.receive([try push("org/other", "1"), try push("org/app", "v2"), try push("org/fixed", "2")], at: start)
        #expect(queued.map(\.description) == ["r.example/org/app:v2"])
        #expect(await s.queueDepth == 1)
    }

    @Test func aPushReadsTheListWhenItHasNone() async throws {
        let s = ServeScheduler(schedule: ServeSchedule(), queue: try PushQueue(path: nil), list: nil, logger: Logger(label: "test"),
                               loadList: { ImageList.parse(text: "r.example/org/new:1\n", source: "images.txt") },
                               runner: { _ in SyncRun(status: 0, report: SyncReport(root: "/r", list: "images.txt", started: Date())) })
        let queued = try await s.receive([try push("org/new", "1"), try push("org/app", "v1")])
        #expect(queued.map(\.description) == ["r.example/org/new:1"], "matched against the list just read")
    }

    @Test func pushesWaitForTheDebounceAndCoalesce() async throws {
        let s = try scheduler()
        #expect(await s.due(start) == nil)
        _ = try await s.receive([try push("org/app", "v1")], at: start)
        #expect(await s.due(start.addingTimeInterval(29)) == nil)
        _ = try await s.receive([try push("org/app", "v2")], at: start.addingTimeInterval(20))
        #expect(await s.due(start.addingTimeInterval(31)) == nil, "a push 20 s later restarts the quiet period")
        #expect(await s.due(start.addingTimeInterval(50)) == .partial)
    }

    @Test func aSteadyStreamOfPushesDoesNotPostponeTheRunForever() async throws {
        let s = try scheduler()
        for i in 0..<12 {
            _ = try await s.receive([try push("org/app", "v\(i)")], at: start.addingTimeInterval(Double(i) * 25))
        }
        #expect(await s.due(start.addingTimeInterval(290)) == nil)
        #expect(await s.due(start.addingTimeInterval(300)) == .partial, "at most ten debounce periods after the first push")
    }

    @Test func theScheduledFullSyncComesAfterTheInitialDelay() async throws {
        let s = try scheduler()
        #expect(await s.due(start.addingTimeInterval(599)) == nil)
        #expect(await s.due(start.addingTimeInterval(600)) == .full)
    }

    @Test func aRunSyncsTheQueuedPushesAndEmptiesTheQueue() async throws {
        let calls = Calls()
        let s = try scheduler(calls)
        _ = try await s.receive([try push("org/app", "v1"), try push("org/app", "v2")], at: start)
        await s.perform(.partial)
        #expect(calls.all.map { $0?.map(\.description) } == [["r.example/org/app:v1", "r.example/org/app:v2"]])
        #expect(await s.queueDepth == 0)
        #expect(await s.runs[.partial] == 1)
        await s.perform(.full)
        #expect(calls.all.count == 2)
        #expect(calls.all.last! == nil, "a full sync is asked for with no pushes")
    }

    @Test func pushesTheListNoLongerHasAreDroppedWithoutARun() async throws {
        let s = ServeScheduler(schedule: ServeSchedule(), queue: try PushQueue(path: nil), list: list, logger: Logger(label: "test"),
                               runner: { _ in SyncRun(status: 0, report: nil) })
        _ = try await s.receive([try push("org/app", "v1")], at: start)
        await s.perform(.partial)
        #expect(await s.queueDepth == 0)
        #expect(await s.runs[.partial] == nil)
        #expect(await s.lastRun == nil)
    }

    @Test func aRunThatDidNothingKeepsTheQueue() async throws {
        let s = try scheduler(status: 2)
        _ = try await s.receive([try push("org/app", "v1")], at: start)
        await s.perform(.partial)
        #expect(await s.queueDepth == 1)
        #expect(await s.due(Date().addingTimeInterval(45)) == nil, "retried after the retry delay (60 s), not after the debounce")
        #expect(await s.due(Date().addingTimeInterval(61)) == .partial)
    }
}
