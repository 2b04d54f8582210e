import Foundation
import ImgsyncServe
import Testing

@Suite struct PushQueueTests {
    func withDirectory(_ body: (String) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.path + "/imgsync-queue-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try body(dir)
    }

    func push(_ tag: String) throws -> RegistryPush {
        try RegistryPush(host: "r.example", repository: "org/app", tag: tag, digest: nil)
    }

    @Test func queuedPushesSurviveAReload() throws {
        try withDirectory { dir in
            var queue = try PushQueue(path: dir + "/q.json")
            try queue.add([try push("1"), try push("2"), try push("1")])
            #expect(queue.depth == 2)
            let again = try PushQueue(path: dir + "/q.json")
            #expect(again.pending.fullSync == false)
            #expect(again.pending.pushes.map(\.tag) == ["1", "2"])
        }
    }

    @Test func removingASnapshotKeepsWhatArrivedLater() throws {
        try withDirectory { dir in
            var queue = try PushQueue(path: dir + "/q.json")
            try queue.add([try push("1")])
            let snapshot = queue.pending
            try queue.add([try push("2")])
            try queue.remove(snapshot)
            #expect(queue.pending.pushes.map(\.tag) == ["2"])
            #expect(try PushQueue(path: dir + "/q.json").pending.pushes.map(\.tag) == ["2"])
            try queue.remove(queue.pending)
            #expect(queue.pending.isEmpty)
            #expect(queue.pending.firstQueued == nil)
        }
    }

    @Test func aPushArrivingAgainDuringTheRunStaysQueued() throws {
        var queue = try PushQueue(path: nil)
        try queue.add([try push("1"), try push("2")])
        let snapshot = queue.pending
        try queue.add([try push("1")])  // pushed again while the run that started with it runs
        try queue.remove(snapshot)
        #expect(queue.pending.pushes.map(\.tag) == ["1"])
    }

    @Test func overflowBecomesAFullSync() throws {
        var queue = try PushQueue(path: nil, capacity: 3)
        try queue.add(try (1...5).map { try push("\($0)") })
        #expect(queue.pending.fullSync)
        #expect(queue.pending.pushes.count == 3)
        #expect(queue.depth == 4)
        let snapshot = queue.pending
        try queue.add([try push("6")])  // arrives during the full sync: another one is due
        try queue.remove(snapshot)
        #expect(queue.pending.fullSync)
        #expect(queue.pending.pushes.isEmpty)
        try queue.remove(queue.pending)
        #expect(queue.pending.isEmpty)
    }

    @Test func anUnreadableFileQueuesAFullSync() throws {
        try withDirectory { dir in
            try Data("{not json".utf8).write(to: URL(fileURLWithPath: dir + "/q.json"))
            let queue = try PushQueue(path: dir + "/q.json")
            #expect(queue.pending.fullSync)
            #expect(queue.recoveryNote != nil)
            #expect(FileManager.default.fileExists(atPath: dir + "/q.json.bad"))
            #expect(try PushQueue(path: dir + "/q.json").pending.fullSync)
        }
    }

    @Test func aTamperedPushInTheFileIsRefused() throws {
        try withDirectory { dir in
            var good = try PushQueue(path: dir + "/q.json")
            try good.add([try push("1")])
            let text = try String(contentsOfFile: dir + "/q.json", encoding: .utf8)
            #expect(text.contains(#""repository":"org\/app""#), "\(text)")
            try Data(text.replacingOccurrences(of: #""repository":"org\/app""#, with: #""repository":"..\/..\/etc""#).utf8)
                .write(to: URL(fileURLWithPath: dir + "/q.json"))
            let queue = try PushQueue(path: dir + "/q.json")
            #expect(queue.pending.pushes.isEmpty)
            #expect(queue.pending.fullSync)
        }
    }
}
