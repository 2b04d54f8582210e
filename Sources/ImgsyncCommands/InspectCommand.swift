import ArgumentParser
import Foundation
import ImgsyncCore
import ImgsyncRepository
import ImgsyncRegistry
import Logging

/// `imgsync inspect <ref>`: resolves a reference in its registry and shows what would be published,
/// in the spirit of `skopeo inspect`.
public struct InspectCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show an image's digests, platform, config and layers as the registry serves them."
    )

    @Argument(help: "Image reference, e.g. ubuntu:22.04 or ghcr.io/org/image@sha256:…")
    var reference: String

    @Option(help: "Platform to choose from a multi-platform image (os/arch[/variant]).")
    var platform: String = "linux/amd64"

    @Flag(help: "Print the manifest (or index) exactly as the registry sent it.")
    var raw = false

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @OptionGroup var registryOptions: RegistryOptions

    public init() {}

    public func validate() throws {
        do {
            _ = try ImageReference(parsing: reference)
            _ = try Platform(parsing: platform)
        } catch let error as ImgsyncError {
            throw ValidationError(error.message)
        }
        if raw && json { throw ValidationError("--raw and --json cannot be used together") }
    }

    public func run() async throws {
        print(try await output(), terminator: "")
    }

    /// What `run` prints; separate so tests can call it.
    func output(environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> String {
        let ref = try ImageReference(parsing: reference)
        let wanted = try Platform(parsing: platform)
        return try await registryOptions.withClient(environment: environment, label: "imgsync.inspect") { client in
            if raw {
                let fetched = try await client.fetchManifest(ref)
                return String(decoding: fetched.bytes, as: UTF8.self) + "\n"
            }
            let image = try await client.resolve(ref, platform: wanted)
            let report = InspectReport(image)
            return json ? try report.json() : report.text()
        }
    }
}

/// The facts `inspect` shows, as text or JSON.
struct InspectReport: Encodable {
    struct Layer: Encodable {
        var digest: String
        var mediaType: String
        var size: Int64
        var urls: [String]?
    }

    var name: String
    var registry: String
    var repository: String
    var tag: String?
    var digest: String
    var indexDigest: String?
    var indexMediaType: String?
    var manifestDigest: String
    var manifestMediaType: String
    var platform: String?
    var configDigest: String
    var env: [String]
    var entrypoint: [String]?
    var cmd: [String]?
    var workingDir: String?
    var user: String?
    var labels: [String: String]
    var diffIDs: [String]
    var layers: [Layer]

    init(_ image: ResolvedImage) {
        name = image.reference.description
        registry = image.reference.registry
        repository = image.reference.repository
        tag = image.reference.tag
        digest = image.digest.description
        indexDigest = image.indexDigest?.description
        indexMediaType = image.indexMediaType
        manifestDigest = image.manifestDigest.description
        manifestMediaType = image.manifestMediaType
        platform = image.platform?.description
        configDigest = image.configDescriptor.digest.description
        env = image.config.env
        entrypoint = image.config.entrypoint
        cmd = image.config.cmd
        workingDir = image.config.workingDir
        user = image.config.user
        labels = image.config.labels
        diffIDs = image.config.diffIDs.map(\.description)
        layers = image.layers.map { Layer(digest: $0.digest.description, mediaType: $0.mediaType, size: $0.size, urls: $0.urls.isEmpty ? nil : $0.urls) }
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    func text() -> String {
        func list(_ items: [String]?) -> String {
            guard let items else { return "(none)" }
            return "[" + items.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        }
        var lines = [
            "Name:          \(name)",
            "Registry:      \(registry)",
            "Repository:    \(repository)",
            "Tag:           \(tag ?? "(digest only)")",
            "Digest:        \(digest)",
        ]
        if let indexDigest {
            lines.append("Index:         \(indexDigest) (\(indexMediaType ?? "?"))")
        }
        lines += [
            "Manifest:      \(manifestDigest) (\(manifestMediaType))",
            "Platform:      \(platform ?? "(unknown)")",
            "Config:        \(configDigest)",
            "Entrypoint:    \(list(entrypoint))",
            "Cmd:           \(list(cmd))",
        ]
        if let workingDir { lines.append("WorkingDir:    \(workingDir)") }
        if let user { lines.append("User:          \(user)") }
        lines.append("Env:" + (env.isEmpty ? "           (none)" : ""))
        lines += env.map { "  \($0)" }
        lines.append("Labels:" + (labels.isEmpty ? "        (none)" : ""))
        lines += labels.keys.sorted().map { "  \($0)=\(labels[$0]!)" }
        let total = layers.reduce(Int64(0)) { $0 + $1.size }
        lines.append("Layers:        \(layers.count), \(total) bytes")
        lines += layers.map { "  \($0.digest)  \($0.size)  \($0.mediaType)" }
        return lines.joined(separator: "\n") + "\n"
    }
}
