import Foundation
import ImgsyncCore
import ImgsyncRepository

/// What a build worker is asked to build: the `JOB ` frame's JSON. The layer bytes follow in
/// `DATA`/`END ` frames, one layer after the other, in the order of `layers`.
struct BuildJob: Codable, Sendable {
    /// Changes whenever the fields change; a worker refuses another version (the parent starts its
    /// own executable, so they differ only if the binary was replaced under a running sync).
    static let currentVersion = 1

    struct Layer: Codable, Sendable {
        /// Index in the image's layers (and DiffIDs).
        var index: Int
        var mediaType: String
        /// How errors name it: "2/3 sha256:…".
        var label: String
    }

    /// The inputs of the Apptainer sandbox files (`SandboxMetadata.add`).
    struct Sandbox: Codable, Sendable {
        var config: Data
        var reference: String
        var architecture: String
        var manifestDigest: String
        var cvmfsCatalog: Bool
    }

    var version = BuildJob.currentVersion
    var root: String
    /// The published name.
    var name: String
    var imageID: String
    /// Already resolved (never `auto`: the parent probes the file system once).
    var linkMode: String
    var worldReadable: Bool
    var gzipEngine: String
    var limits: LayerLimits
    var diffIDs: [String]
    /// The first `reusedLayers` layers come from their chain's catalog.
    var reusedLayers: Int
    /// The layers streamed after the job.
    var layers: [Layer]
    var sandbox: Sandbox?
}

/// What a build worker reports: one JSON line on its stdout, written when it is done.
struct WorkerResult: Codable, Sendable {
    /// nil when the image was published.
    var error: ReportedError?
    var warnings: [String] = []
    var objectsAdded = 0
    var bytesAdded: Int64 = 0
    var bodiesReused = 0
    var bytesReused: Int64 = 0
    var unreadableByOthers = 0
}

/// An error crossing the process boundary: an `ImgsyncError` comes back as one (same code, text,
/// layer and entry), anything else as its text.
struct ReportedError: Codable, Sendable {
    var code: String?
    var message: String
    var layer: String?
    var entry: String?
    var errno: Int32?

    init(_ error: any Error) {
        if let e = error as? ImgsyncError {
            (code, message, layer, entry, errno) = (e.code.description, e.message, e.layer, e.entry, e.errno)
        } else {
            message = "\(error)"
        }
    }

    /// The error as the parent rethrows it.
    var error: any Error {
        if let code, let known = ImgsyncError.Code(name: code) {
            return ImgsyncError(known, message, layer: layer, entry: entry, errno: errno)
        }
        // Worded as `ImgsyncError.description` words it.
        let context = [layer.map { "layer \($0)" }, entry.map { "entry \"\($0)\"" }].compactMap { $0 }
        let prefix = context.isEmpty ? "" : context.joined(separator: ", ") + ": "
        return WorkerReportedError(description: prefix + message + (code.map { " [\($0)]" } ?? ""))
    }
}

/// An error a worker reported that is not an `ImgsyncError` of a code this side knows.
struct WorkerReportedError: Error, CustomStringConvertible {
    let description: String
}
