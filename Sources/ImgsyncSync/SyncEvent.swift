import Foundation
import ImgsyncCore

/// One line of the `--events` log (JSON Lines, docs/operations.md): the start of a run, each listed
/// image's outcome, each unpublished name, each unusable list line, the end of the run with its
/// counts. Fields that do not apply to an event are left out.
public struct SyncEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case runStart = "run-start"
        case image
        case removed
        case notRemoved = "not-removed"
        case listIssue = "list-issue"
        case runEnd = "run-end"
    }

    public var time: Date
    /// The run's id: every line of one run carries it.
    public var run: String
    public var event: Kind
    public var root: String?
    public var list: String?
    public var pid: Int32?
    public var dryRun: Bool?
    public var name: String?
    public var reference: String?
    public var origin: String?
    public var outcome: ImageOutcome?
    public var digest: String?
    public var imageID: String?
    public var error: String?
    public var layersFetched: Int?
    public var bytesFetched: Int64?
    public var seconds: Double?
    public var exitCode: Int32?
    /// run-end: images by outcome, and `removed`, `listIssues`.
    public var counts: [String: Int]?

    public init(time: Date, run: String, event: Kind) {
        self.time = time
        self.run = run
        self.event = event
    }

    /// The lines between a run's start and end: images, list issues, removals.
    public static func lines(of report: SyncReport, run: String, time: Date) -> [SyncEvent] {
        var out: [SyncEvent] = []
        for issue in report.listIssues {
            var e = SyncEvent(time: time, run: run, event: .listIssue)
            e.error = issue
            out.append(e)
        }
        for image in report.images {
            var e = SyncEvent(time: time, run: run, event: .image)
            e.name = image.name
            e.reference = image.reference
            e.origin = image.origin
            e.outcome = image.outcome
            e.digest = image.digest
            e.imageID = image.imageID
            e.error = image.error
            e.layersFetched = image.layersFetched
            e.bytesFetched = image.bytesFetched
            e.seconds = image.seconds
            out.append(e)
        }
        for name in report.removed {
            var e = SyncEvent(time: time, run: run, event: .removed)
            e.name = name
            out.append(e)
        }
        for failure in report.removalErrors {
            var e = SyncEvent(time: time, run: run, event: .notRemoved)
            e.error = failure
            out.append(e)
        }
        return out
    }

    /// The end of a run: its exit status, counts and figures (only the status and `error` when it
    /// stopped before resolving any image).
    public static func end(of report: SyncReport?, run: String, time: Date, exitCode: Int32, error: String?) -> SyncEvent {
        var e = SyncEvent(time: time, run: run, event: .runEnd)
        e.exitCode = exitCode
        e.error = error
        if let report {
            var counts = [String: Int]()
            for outcome in SyncMetrics.outcomes { counts[outcome.rawValue] = report.count(outcome) }
            counts["removed"] = report.removed.count
            counts["listIssues"] = report.listIssues.count
            e.counts = counts
            e.bytesFetched = report.bytesFetched
            e.seconds = report.seconds
        }
        return e
    }

    /// The JSON line, newline included.
    public func line() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return Array(try encoder.encode(self)) + [UInt8(ascii: "\n")]
    }
}

/// The `--events` file, open for appending: each line goes out in one `write(2)` on an `O_APPEND`
/// descriptor, so lines of concurrent writers never interleave within a line.
public final class SyncEventLog: @unchecked Sendable {
    // @unchecked: `fd` is immutable; appends are independent system calls.
    public let path: String
    private let fd: Int32

    /// Opens (creating, mode 0644) `path` for appending.
    public init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RecordFile.failure("cannot open the event log \(path)") }
    }

    deinit { close(fd) }

    public func append(_ event: SyncEvent) throws {
        let bytes = try event.line()
        let written = bytes.withUnsafeBytes { raw -> Int in
            while true {
                let n = write(fd, raw.baseAddress!, raw.count)
                if n < 0 && errno == EINTR { continue }
                return n
            }
        }
        guard written == bytes.count else {
            if written < 0 { throw RecordFile.failure("cannot append to the event log \(path)") }
            throw ImgsyncError(.io, "short write to the event log \(path): \(written) of \(bytes.count) bytes")
        }
    }
}
