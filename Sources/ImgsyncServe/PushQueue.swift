import Foundation
import ImgsyncSync

/// The pushes waiting for a sync, kept in a file (`<root>/.imgsync/serve-queue.json` by default) so
/// that a restart still syncs them. Bounded without losing anything: past `capacity` distinct
/// pushes the queue stops listing them and asks for a full sync instead, which covers every push.
public struct PushQueue: Sendable {
    /// What is queued (the file's content).
    public struct Pending: Codable, Sendable, Equatable {
        /// A queued push and the number of its latest arrival: a push that arrives again while a
        /// run that started with it is in progress gets a new number, so that the run's end does
        /// not remove it (the run may have looked before the second push).
        public struct Entry: Codable, Sendable, Hashable {
            public var push: RegistryPush
            public var serial: Int
        }

        /// Distinct pushes in arrival order.
        public var entries: [Entry] = []
        /// More than `capacity` distinct pushes arrived (or the file was unreadable): the next run
        /// is a full sync.
        public var fullSync = false
        /// The arrival that last asked for the full sync.
        public var fullSyncSerial = 0
        /// The number of the latest arrival.
        public var serial = 0
        public var firstQueued: Date?
        public var lastQueued: Date?

        public init() {}

        public var pushes: [RegistryPush] { entries.map(\.push) }
        public var isEmpty: Bool { entries.isEmpty && !fullSync }
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
            pending.fullSyncSerial = 1
            pending.serial = 1
            pending.firstQueued = Date()
            pending.lastQueued = pending.firstQueued
            try write(pending)
        }
    }

    /// Pushes waiting (a queued full sync counts as one).
    public var depth: Int { pending.entries.count + (pending.fullSync ? 1 : 0) }

    /// Queues `pushes` (those already queued are not repeated) and writes the file before
    /// returning, so that an acknowledged push survives a crash. Throws when the file cannot be
    /// written (the queue in memory is unchanged then).
    public mutating func add(_ pushes: [RegistryPush], at time: Date = Date()) throws {
        guard !pushes.isEmpty else { return }
        var next = pending
        for push in pushes {
            next.serial += 1
            if let i = next.entries.firstIndex(where: { $0.push == push }) {
                next.entries[i].serial = next.serial
            } else if next.entries.count < capacity {
                next.entries.append(.init(push: push, serial: next.serial))
            } else {
                next.fullSync = true
                next.fullSyncSerial = next.serial
            }
        }
        if next.firstQueued == nil { next.firstQueued = time }
        next.lastQueued = time
        try write(next)
        pending = next
    }

    /// Removes what `done` held (a run that started with that snapshot finished); what arrived
    /// since, including pushes of `done` that arrived again, stays.
    public mutating func remove(_ done: Pending) throws {
        var next = pending
        if done.fullSync && next.fullSyncSerial == done.fullSyncSerial { next.fullSync = false }
        let finished = Set(done.entries)
        next.entries.removeAll { finished.contains($0) }
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
