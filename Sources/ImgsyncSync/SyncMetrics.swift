import Foundation
import ImgsyncRegistry

/// One `imgsync sync` run in node_exporter's textfile-collector format (`--metrics-file`,
/// docs/operations.md). Every figure describes the last run (gauges, none cumulative), except
/// `imgsync_last_success_timestamp_seconds`, which is carried over from the previous file when this
/// run published nothing.
public struct SyncMetrics: Sendable {
    /// The run's report; nil when the run stopped before it resolved any image (exit 2).
    public var report: SyncReport?
    public var exitCode: Int32
    public var finished: Date

    public init(report: SyncReport?, exitCode: Int32, finished: Date) {
        self.report = report
        self.exitCode = exitCode
        self.finished = finished
    }

    /// A run that published what it could (exit 0 or 1) and was not a dry run.
    public var succeeded: Bool { (exitCode == 0 || exitCode == 1) && report.map { !$0.dryRun } == true }

    /// The outcomes counted, in the order they are written (all of them, zeros included, so that a
    /// series does not vanish when its count drops to 0).
    static let outcomes: [ImageOutcome] = [.added, .updated, .unchanged, .failed, .wouldChange]

    /// The file's text. `previous` is the text of the file this one replaces: its last success time
    /// is kept when this run did not succeed (0 when there was none).
    public func text(previous: String?) -> String {
        var out = MetricsText()
        let lastSuccess = succeeded ? finished.timeIntervalSince1970 : previous.flatMap(Self.lastSuccess(in:)) ?? 0
        out.gauge("imgsync_last_success_timestamp_seconds",
                  "End of the last sync that published (exit 0 or 1, not a dry run), Unix time; 0 if none yet.",
                  [([], Self.format(lastSuccess))])
        out.gauge("imgsync_last_run_timestamp_seconds", "End of the last sync run, Unix time.",
                  [([], Self.format(finished.timeIntervalSince1970))])
        out.gauge("imgsync_last_run_exit_code",
                  "Exit status of the last sync: 0 ok, 1 some images failed, 2 nothing done, 3 nothing published or a record not written.",
                  [([], "\(exitCode)")])
        guard let report else { return out.text }
        out.gauge("imgsync_last_run_duration_seconds", "Duration of the last sync run.", [([], Self.format(report.seconds))])
        out.gauge("imgsync_last_run_dry_run", "1 if the last sync was a dry run (--dry-run).", [([], report.dryRun ? "1" : "0")])
        out.gauge("imgsync_last_run_images", "Listed images of the last sync run by outcome.",
                  Self.outcomes.map { ([("outcome", $0.rawValue)], "\(report.count($0))") })
        out.gauge("imgsync_last_run_fetched_bytes", "Layer bytes downloaded by the last sync run, per registry (not cumulative).",
                  Self.fetchedBytes(report).map { ([("registry", $0.key)], "\($0.value)") })
        let traffic = (report.registries ?? [:]).sorted { $0.key < $1.key }
        out.gauge("imgsync_last_run_registry_requests", "HTTP requests the last sync run sent, per registry and kind (retries and redirects included).",
                  traffic.flatMap { registry in
                      registry.value.requests.sorted { $0.key < $1.key }.map { ([("registry", registry.key), ("request", $0.key)], "\($0.value)") }
                  })
        out.gauge("imgsync_last_run_registry_bytes", "Blob and manifest bytes the last sync run received, per registry.",
                  traffic.map { ([("registry", $0.key)], "\($0.value.bytes)") })
        out.gauge("imgsync_last_run_registry_stopped", "1 if the last sync run stopped asking the registry (its request budget spent, or it said it had no requests left), else 0.",
                  traffic.map { ([("registry", $0.key)], $0.value.stopped == nil ? "0" : "1") })
        out.gauge("imgsync_last_run_objects_added", "Bodies added to the object store by the last sync run.",
                  [([], "\(report.objectsAdded)")])
        out.gauge("imgsync_last_run_bytes_added", "Bytes of the bodies added to the object store by the last sync run.",
                  [([], "\(report.bytesAdded)")])
        out.gauge("imgsync_last_run_removed", "Names unpublished by the last sync run because they left the list.",
                  [([], "\(report.removed.count)")])
        out.gauge("imgsync_last_run_list_issues", "Lines of the image list the last sync run could not use.",
                  [([], "\(report.listIssues.count)")])
        out.gauge("imgsync_image_failed", "1 if the listed image failed in the last sync run (its previous tree stays published), else 0.",
                  report.images.map { ([("name", $0.name)], $0.outcome == .failed ? "1" : "0") })
        return out.text
    }

    /// Downloaded layer bytes by registry, every listed image's registry included (0 when nothing
    /// was fetched from it), sorted by registry.
    static func fetchedBytes(_ report: SyncReport) -> [(key: String, value: Int64)] {
        var bytes: [String: Int64] = [:]
        for image in report.images {
            let registry = (try? ImageReference(parsing: image.reference))?.registry
                ?? String(image.reference.prefix { $0 != "/" })
            bytes[registry, default: 0] += image.bytesFetched
        }
        return bytes.sorted { $0.key < $1.key }
    }

    /// The value of `imgsync_last_success_timestamp_seconds` in a previous file's text.
    static func lastSuccess(in text: String) -> Double? {
        let prefix = "imgsync_last_success_timestamp_seconds "
        for line in text.split(separator: "\n") where line.hasPrefix(prefix) {
            return Double(line.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// A sample value: integers without a fraction, others to the millisecond.
    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.3f", value)
    }

    /// A label value in the Prometheus text format: backslash, double quote and line feed escaped.
    public static func escapeLabelValue(_ value: String) -> String {
        var out = ""
        for c in value.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A HELP text: backslash and line feed escaped.
    static func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}

/// Text-format families: `# HELP`, `# TYPE`, then the samples.
private struct MetricsText {
    var text = ""

    mutating func gauge(_ name: String, _ help: String, _ samples: [(labels: [(String, String)], value: String)]) {
        text += "# HELP \(name) \(SyncMetrics.escapeHelp(help))\n# TYPE \(name) gauge\n"
        for sample in samples {
            let labels = sample.labels.map { "\($0.0)=\"\(SyncMetrics.escapeLabelValue($0.1))\"" }.joined(separator: ",")
            text += name + (labels.isEmpty ? "" : "{\(labels)}") + " \(sample.value)\n"
        }
    }
}
