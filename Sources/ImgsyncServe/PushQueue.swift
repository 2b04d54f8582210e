import Foundation
import ImgsyncSync

/// The pushes waiting for a sync, kept in a file (`<root>/.imgsync/serve-queue.json` by default) so
/// that a restart still syncs them. Bounded without losing anything: past `capacity` distinct
/// pushes the queue stops listing them and asks for a full sync instead, which covers every push.
public struct PushQueue: Sendable {
    /// What is queued (the file's content).
    public struct Pending: Codable, Sendable, Equatable {
        /// Distinct pushes in arrival order.
        public var pushes: [RegistryPush] = []
        /// More than `capacity` distinct pushes arrived (or the file was unreadable): the next run
        /// is a full sync.
        public var fullSync = false
        public var firstQueued: Date?
        public var lastQueued: Date?

        public init() {}

        public var isEmpty: Bool { pushes.isEmpty && !fullSync }
    }

    public let path: String?
    public let capacity: Int
    public private(set) var pending = Pending()
    /// Set when the file existed but could not be read (it was moved aside; a full sync is queued).
    public private(set) var recoveryNote: String?

    /// Loads the queue at `path` (nil: kept in memory only). An unreadable file is renamed to
    /// `<path>.bad` and replaced by a queued full sync: whatever it held is then synced anyway.
    public init(path: String?, capacity: Int = 1000) throws {
        self.path = path
        self.capacity = capacity
        guard let path, let data = FileManager.default.contents(atPath: path) else { return }
        do {
            pending = try JSONDecoder.iso8601.decode(Pending.self, from: data)
        } catch {
            _ = rename(path, path + ".bad")
            recoveryNote = "the queue file \(path) could not be read (\(error)); moved to \(path).bad, a full sync is queued"
            pending.fullSync = true
            pending.firstQueued = Date()
            pending.lastQueued = pending.firstQueued
            try write(pending)
        }
    }

    /// Pushes waiting (a queued full sync counts as one).
    public var depth: Int { pending.pushes.count + (pending.fullSync ? 1 : 0) }

    /// Queues `pushes` (those already queued are not repeated) and writes the file before
    /// returning, so that an acknowledged push survives a crash. Throws when the file cannot be
    /// written (the queue in memory is unchanged then).
    public mutating func add(_ pushes: [RegistryPush], at time: Date = Date()) throws {
        guard !pushes.isEmpty else { return }
        var next = pending
        for push in pushes where !next.fullSync && !next.pushes.contains(push) {
            if next.pushes.count >= capacity {
                next.pushes = []
                next.fullSync = true
            } else {
                next.pushes.append(push)
            }
        }
        if next.firstQueued == nil { next.firstQueued = time }
        next.lastQueued = time
        try write(next)
        pending = next
    }

    /// Removes what `done` held (a run that started with that snapshot finished); what arrived
    /// since stays.
    public mutating func remove(_ done: Pending) throws {
        var next = pending
        if done.fullSync { next.fullSync = false }
        let finished = Set(done.pushes)
        next.pushes.removeAll { finished.contains($0) }
        if next.isEmpty {
            next.firstQueued = nil
            next.lastQueued = nil
        } else {
            // What arrived during the run waits its own debounce from its last arrival.
            next.firstQueued = next.lastQueued
        }
        try write(next)
        pending = next
    }

    private func write(_ value: Pending) throws {
        guard let path else { return }
        try RecordFile.replace(path, with: Array(try JSONEncoder.iso8601.encode(value)))
    }
}

extension JSONEncoder {
    static var iso8601: JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.sortedKeys]
        return e
    }
}

extension JSONDecoder {
    static var iso8601: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }
}
