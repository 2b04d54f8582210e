import Foundation
import ImgsyncCore
import ImgsyncRegistry

/// What happened to one listed image in a sync.
public enum ImageOutcome: String, Codable, Sendable {
    /// The name was not published before and now is.
    case added
    /// The name pointed to another image (or to nothing intact) and now points to the new one.
    case updated
    /// The tag still resolves to what is published and the tree is intact: nothing was fetched.
    case unchanged
    /// The image could not be resolved, fetched or built; the name keeps its previous tree.
    case failed
    /// `--dry-run`: the image would be (re)built or re-pointed.
    case wouldChange = "would-change"
}

/// One listed image's result.
public struct ImageResult: Codable, Sendable {
    public var name: String
    public var reference: String
    /// `images.txt:12` — where the entry came from.
    public var origin: String
    public var outcome: ImageOutcome
    public var digest: String?
    public var imageID: String?
    public var platform: String?
    public var error: String?
    /// The class of `error` (`budget-spent`, `not-found`, …: docs/conformance.md §0), when it had one.
    public var errorCode: String?
    /// Layers downloaded, and layers taken from an already-built chain.
    public var layersFetched = 0
    public var layersReused = 0
    public var bytesFetched: Int64 = 0
    public var objectsAdded = 0
    public var bytesAdded: Int64 = 0
    /// Bodies that were already in the store and were linked instead of written, and their bytes.
    public var bodiesDeduplicated = 0
    public var bytesDeduplicated: Int64 = 0
    public var seconds: Double = 0
    public var warnings: [String] = []
    /// Paths of the tree built in this run that users other than the owner cannot read on disk.
    public var unreadableByOthers = 0

    public init(name: String, reference: String, origin: String, outcome: ImageOutcome) {
        self.name = name
        self.reference = reference
        self.origin = origin
        self.outcome = outcome
    }
}

/// The summary of one `imgsync sync` run (also written as JSON with `--json FILE`).
public struct SyncReport: Codable, Sendable {
    public var root: String
    public var list: String
    public var started: Date
    public var seconds: Double = 0
    public var dryRun = false
    public var images: [ImageResult] = []
    /// Problems with the list itself (file:line: reason); those lines were skipped.
    public var listIssues: [String] = []
    /// List lines that produced no image (a bad line, a tag pattern whose tags could not be listed
    /// or that matches nothing): failures of the run like a failed image.
    public var failedLines = 0
    /// Names unpublished because they left the list.
    public var removed: [String] = []
    /// Why names that left the list were kept (shrink guard, list errors), if they were.
    public var removalHeld: String?
    /// The names that left the list but were kept (see `removalHeld`).
    public var keptNames: [String] = []
    public var hookErrors: [String] = []
    /// Names that left the list but could not be unpublished.
    public var removalErrors: [String] = []
    /// With a before-change hook and nothing to change, the run wrote nothing under the root
    /// (which may be read-only outside a transaction).
    public var rootUntouched = false
    public var gc: [String: Int64]?
    /// Requests and bytes per registry for the whole run (list expansion included), as the client
    /// counted them; nil in reports of runs that did not reach a registry.
    public var registries: [String: RegistryTraffic]?

    public init(root: String, list: String, started: Date) {
        self.root = root
        self.list = list
        self.started = started
    }

    public func count(_ outcome: ImageOutcome) -> Int { images.filter { $0.outcome == outcome }.count }
    public var bytesFetched: Int64 { images.reduce(0) { $0 + $1.bytesFetched } }
    public var objectsAdded: Int { images.reduce(0) { $0 + $1.objectsAdded } }
    public var bytesAdded: Int64 { images.reduce(0) { $0 + $1.bytesAdded } }
    public var bytesDeduplicated: Int64 { images.reduce(0) { $0 + $1.bytesDeduplicated } }
    public var changed: Bool {
        images.contains { $0.outcome == .added || $0.outcome == .updated } || !removed.isEmpty
    }

    /// The run's exit status (docs/operations.md): 0 everything synced; 1 some images or list lines
    /// failed, a name could not be removed, or the after-change hook failed, and the rest was
    /// published; 3 nothing was published because every listed image failed (a list whose every
    /// line is bad included). 2 (nothing done) never comes from a report: such runs throw.
    public var exitCode: Int32 {
        if publishedNothing { return 3 }
        return (count(.failed) > 0 || failedLines > 0 || !listIssues.isEmpty || !hookErrors.isEmpty || !removalErrors.isEmpty) ? 1 : 0
    }

    /// Something was listed and every image of it failed (or no line of the list was usable).
    public var publishedNothing: Bool {
        (!images.isEmpty || !listIssues.isEmpty) && images.allSatisfy { $0.outcome == .failed }
    }

    /// The human summary printed at the end of a run. It stays readable whatever the list's size
    /// (issue 9 item 6): unchanged images are only counted; failed and removed images, warnings and
    /// list problems are listed up to `listedLines` each and then counted (every one is in the JSON
    /// report); no line is longer than `maxLineLength`.
    public func text() -> String {
        var lines: [String] = []
        func listed(_ items: [String], _ what: String) {
            lines += items.prefix(Self.listedLines)
            if items.count > Self.listedLines {
                lines.append("... and \(items.count - Self.listedLines) more \(what) (all in the JSON report, --json)")
            }
        }
        listed(listIssues.map { "list: \($0)" }, "list problems")
        listed(images.filter { $0.outcome == .failed }.map { "failed: \($0.name) (\($0.origin), \($0.reference)): \($0.error ?? "unknown error")" },
               "failed images")
        listed(removed.map { "\(dryRun ? "would remove" : "removed"): \($0)" }, dryRun ? "names to remove" : "removed names")
        listed(images.filter { !$0.warnings.isEmpty }.map { r in
            let shown = r.warnings.prefix(3).joined(separator: "; ")
            let more = r.warnings.count > 3 ? " (\(r.warnings.count - 3) more in the JSON report)" : ""
            return "warning: \(r.name): \(shown)\(more)"
        }, "images with warnings")
        if let held = removalHeld { lines.append("kept: \(held)") }
        listed(removalErrors.map { "not removed: \($0)" }, "names not removed")
        lines += hookErrors.map { "hook: \($0)" }
        lines += registryStops
        let withHiddenPaths = images.filter { $0.unreadableByOthers > 0 }
        if !withHiddenPaths.isEmpty {
            let total = withHiddenPaths.reduce(0) { $0 + $1.unreadableByOthers }
            // Bounded: the first few images, the rest counted (every one is in the JSON report).
            var list = withHiddenPaths.prefix(5).map { "\($0.name) (\($0.unreadableByOthers))" }.joined(separator: ", ")
            if withHiddenPaths.count > 5 { list += " and \(withHiddenPaths.count - 5) more images" }
            lines.append("unreadable by other users: \(total) path\(total == 1 ? "" : "s") in \(list); a CVMFS client hides them from everyone but root (see `imgsync sync --world-readable`)")
        }
        let verb = dryRun ? "would change" : "updated"
        var last = "sync \(root): \(count(.added)) added, \(count(.updated) + count(.wouldChange)) \(verb), "
        last += "\(count(.unchanged)) unchanged, \(removed.count) \(dryRun ? "would be removed" : "removed"), \(count(.failed) + failedLines) failed"
        if failedLines > 0 { last += " (\(failedLines) of them list line\(failedLines == 1 ? "" : "s") that produced no image)" }
        last += "; "
        last += "fetched \(ByteCount.format(bytesFetched)), \(objectsAdded) new objects (\(ByteCount.format(bytesAdded))), "
        last += "\(ByteCount.format(bytesDeduplicated)) deduplicated; \(String(format: "%.1f", seconds)) s"
        lines.append(last)
        return lines.map { Self.bounded($0) + "\n" }.joined()
    }

    /// One line per registry the run stopped asking (its request budget spent, or it said it had no
    /// requests left), e.g. `registry docker.io: request budget of 100 spent; 7 images not synced …`.
    var registryStops: [String] {
        (registries ?? [:]).sorted { $0.key < $1.key }.compactMap { name, traffic in
            guard let stopped = traffic.stopped else { return nil }
            let n = traffic.imagesNotSynced ?? 0
            return "registry \(name): \(stopped); \(n) image\(n == 1 ? "" : "s") not synced (\(n == 1 ? "it keeps its" : "they keep their") published tree\(n == 1 ? "" : "s")), "
                + "\(traffic.refused ?? 0) request\(traffic.refused == 1 ? "" : "s") not sent; the next run asks again"
        }
    }

    /// Lines of one kind (failed images, removed names, ...) listed before the rest is counted.
    static let listedLines = 10
    /// The longest line of the summary, in characters; longer ones (a registry's error body) are cut.
    static let maxLineLength = 1000

    static func bounded(_ line: String) -> String {
        guard line.count > maxLineLength else { return line }
        let cut = " [cut; the whole text is in the JSON report]"
        return String(line.prefix(maxLineLength - cut.count)) + cut
    }

    public func json() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return try e.encode(self)
    }
}
