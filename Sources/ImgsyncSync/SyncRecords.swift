import Foundation
import ImgsyncCore

/// What `imgsync sync` writes besides its summary: the JSON report (`--json`), the metrics file
/// (`--metrics-file`) and the event log (`--events`). A record that cannot be written turns exit 0
/// or 1 into 3 (docs/operations.md), so that a systemd unit fails rather than leave its monitoring
/// blind without a word.
public final class SyncRecords {
    public let jsonPath: String?
    public let metricsPath: String?
    private let events: SyncEventLog?
    /// The id every event line of this run carries.
    public let run: String
    /// One message per record that could not be written (for standard error).
    public private(set) var problems: [String] = []
    private var eventsFailed = false

    /// Opens the event log; throws when it cannot be opened (the run should not start then).
    public init(json: String?, metricsFile: String?, events: String?) throws {
        jsonPath = json
        metricsPath = metricsFile
        self.events = try events.map { try SyncEventLog(path: $0) }
        run = UUID().uuidString.lowercased()
    }

    /// Why a file cannot be created at `path` (its directory is missing or is not a directory), or
    /// nil. For checking options before any work.
    public static func directoryProblem(forFile path: String) -> String? {
        let directory = (path as NSString).deletingLastPathComponent
        let shown = directory.isEmpty ? "." : directory
        var info = stat()
        guard stat(shown, &info) == 0 else {
            return errno == ENOENT ? "directory \(shown) does not exist" : "directory \(shown): \(String(cString: strerror(errno)))"
        }
        return (info.st_mode & S_IFMT) == S_IFDIR ? nil : "\(shown) is not a directory"
    }

    /// The run-start event.
    public func start(root: String, list: String, dryRun: Bool, time: Date = Date()) {
        var e = SyncEvent(time: time, run: run, event: .runStart)
        e.root = root
        e.list = list
        e.pid = getpid()
        e.dryRun = dryRun
        append([e])
    }

    /// Writes the JSON report (when there is a report), the metrics file and the rest of the event
    /// log. Returns the exit status: `status`, or 3 when a record could not be written and `status`
    /// was 0 or 1 (a run that changed nothing keeps its 2).
    public func finish(report: SyncReport?, status: Int32, error: String? = nil, time: Date = Date()) -> Int32 {
        var status = status
        let failed = { if status == 0 || status == 1 { status = 3 } }
        if let jsonPath, let report {
            do {
                try RecordFile.replace(jsonPath, with: Array(try report.json()))
            } catch {
                problems.append("--json \(jsonPath): the report could not be written: \(error)")
                failed()
            }
        }
        if let metricsPath {
            do {
                let previous = try? String(contentsOfFile: metricsPath, encoding: .utf8)
                let text = SyncMetrics(report: report, exitCode: status, finished: time).text(previous: previous)
                try RecordFile.replace(metricsPath, with: Array(text.utf8))
            } catch {
                problems.append("--metrics-file \(metricsPath): the metrics could not be written: \(error)")
                failed()
            }
        }
        if events != nil {
            append(report.map { SyncEvent.lines(of: $0, run: run, time: time) } ?? [])
            if !eventsFailed {
                append([SyncEvent.end(of: report, run: run, time: time, exitCode: status, error: error)])
            }
            if eventsFailed { failed() }
        }
        return status
    }

    /// Appends event lines; after the first that cannot be written, nothing more is tried.
    private func append(_ lines: [SyncEvent]) {
        guard let events, !eventsFailed else { return }
        for line in lines {
            do {
                try events.append(line)
            } catch {
                problems.append("--events \(events.path): the event log could not be written: \(error)")
                eventsFailed = true
                return
            }
        }
    }
}

/// Small files written whole.
public enum RecordFile {
    /// Replaces `path` atomically: writes `path.tmp` (mode 0644), fsyncs it and renames it over
    /// `path`, so a reader (node_exporter, a monitoring script) sees the old file or the new one.
    public static func replace(_ path: String, with bytes: [UInt8]) throws {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create \(tmp)") }
        do {
            try bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw failure("cannot write \(tmp)")
                    }
                    offset += n
                }
            }
            guard fsync(fd) == 0 else { throw failure("cannot fsync \(tmp)") }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        guard close(fd) == 0 else {
            let e = failure("cannot close \(tmp)")
            unlink(tmp)
            throw e
        }
        guard rename(tmp, path) == 0 else {
            let e = failure("cannot rename \(tmp) to \(path)")
            unlink(tmp)
            throw e
        }
    }

    static func failure(_ what: String, _ e: Int32 = errno) -> ImgsyncError {
        ImgsyncError(.io, "\(what): \(String(cString: strerror(e)))", errno: e)
    }
}
