import ArgumentParser
import Foundation
import ImgsyncCore
import ImgsyncRepository

/// `imgsync apply`: the low-level command (like `umoci raw unpack`) that applies local layer blobs in
/// order and publishes the result under a name.
public struct ApplyCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply local layer blobs in order and publish the tree as <root>/<name>.",
        discussion: """
            Each blob is a tar layer, plain, gzip or zstd. Compression comes from --media-type when \
            given (one per blob, in order) or from the blob's magic bytes, and is always cross-checked \
            against them. --digest and --diff-id (one per blob, in order) are verified while streaming. \
            The tree is built in <root>/.imgsync/staging and published only when every layer applied \
            and verified; a failed apply leaves the previously published tree in place.
            """
    )

    @OptionGroup var rootOption: RootOption

    @Option(name: .long, help: "Published name, e.g. org/image:tag.")
    var name: String

    @Option(name: .customLong("media-type"), help: "Media type of each blob, in order (OCI or Docker layer media type, or tar|gzip|zstd).")
    var mediaTypes: [String] = []

    @Option(name: .customLong("digest"), help: "Expected sha256 digest of each blob, in order.")
    var digests: [String] = []

    @Option(name: .customLong("diff-id"), help: "Expected DiffID (sha256 of the uncompressed tar) of each blob, in order.")
    var diffIDs: [String] = []

    @Option(name: .long, help: "How tree files share bodies: auto, hardlink, reflink or copy.")
    var link: String = "auto"

    @Flag(help: "Make the tree a+rX on disk (the catalog keeps the layers' modes); all trees of a root share this setting, which later runs follow.")
    var worldReadable = false

    @Option(name: .customLong("gzip-engine"), help: "gzip implementation: isal (fast) or zlib.")
    var gzipEngine: String = "isal"

    @Option(name: .customLong("max-layer-bytes"), help: "Limit on the bytes one layer expands to (decompressed tar plus the holes of sparse files; default 256 GiB).")
    var maxLayerBytes: Int64?

    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false

    @Argument(help: "Layer blobs, lowest first.")
    var blobs: [String]

    public init() {}

    public func validate() throws {
        if blobs.isEmpty { throw ValidationError("give at least one layer blob") }
        if !mediaTypes.isEmpty && mediaTypes.count != blobs.count {
            throw ValidationError("--media-type was given \(mediaTypes.count) times for \(blobs.count) blobs")
        }
        if !digests.isEmpty && digests.count != blobs.count {
            throw ValidationError("--digest was given \(digests.count) times for \(blobs.count) blobs")
        }
        if !diffIDs.isEmpty && diffIDs.count != blobs.count {
            throw ValidationError("--diff-id was given \(diffIDs.count) times for \(blobs.count) blobs")
        }
        guard LinkMode(rawValue: link) != nil else { throw ValidationError("--link must be auto, hardlink, reflink or copy") }
        guard GzipEngine(rawValue: gzipEngine) != nil else { throw ValidationError("--gzip-engine must be isal or zlib") }
        do { _ = try PublishedName(name) } catch { throw ValidationError("\(error)") }
        for d in digests + diffIDs {
            do { _ = try Digest(parsing: d) } catch { throw ValidationError("\(error)") }
        }
    }

    public func run() throws {
        let started = Date()
        let publishedName = try PublishedName(name)
        let repository = try Repository(root: rootOption.path!)
        // apply has neither --wait nor --lock-file: its lock errors suggest neither.
        try repository.lock(advice: [])
        var limits = LayerLimits()
        if let maxLayerBytes { limits.maxLayerBytes = maxLayerBytes }
        let builder = try ImageBuilder(repository: repository, linkMode: LinkMode(rawValue: link)!, worldReadable: try repository.effectiveWorldReadable(requested: worldReadable), limits: limits,
                                       gzipEngine: GzipEngine(rawValue: gzipEngine)!)
        builder.imageName = name
        var compressed: Int64 = 0
        var uncompressed: Int64 = 0
        var start = 0
        let expectedDiffIDs = try diffIDs.map { try Digest(parsing: $0) }
        if expectedDiffIDs.count == blobs.count, let (k, catalog) = try repository.longestKnownChain(expectedDiffIDs) {
            try builder.start(from: catalog, diffIDs: Array(expectedDiffIDs[0..<k]))
            start = k
        }
        for i in start..<blobs.count {
            let path = blobs[i]
            let source = try FileSource(path: path)
            let compression: LayerCompression
            if mediaTypes.isEmpty {
                compression = try sniff(path)
            } else {
                compression = try LayerMediaType(cliName: mediaTypes[i]).compression
            }
            let expect = LayerExpectations(compression: compression,
                                           digest: digests.isEmpty ? nil : try Digest(parsing: digests[i]),
                                           diffID: diffIDs.isEmpty ? nil : try Digest(parsing: diffIDs[i]))
            let d = try builder.apply(LayerInput(source: source, name: path, expect: expect))
            compressed += d.compressedSize
            uncompressed += d.uncompressedSize
        }
        let published = try builder.publish(as: publishedName)
        let elapsed = Date().timeIntervalSince(started)
        for w in builder.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
        if json {
            let obj: [String: Any] = [
                "name": published.name.description, "image_id": published.imageID.description,
                "tree": published.treePath, "entries": published.entries, "layers": blobs.count,
                "layers_reused": start, "compressed_bytes": compressed, "uncompressed_bytes": uncompressed,
                "objects_added": builder.objectsAdded, "bytes_added": builder.bytesAdded,
                "bodies_reused": builder.bodiesReused, "link_mode": builder.linkMode.rawValue,
                "seconds": elapsed, "warnings": builder.warnings,
            ]
            let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("published \(published.name) -> \(published.imageID) (\(published.entries) paths, \(blobs.count) layers, \(start) from a known chain)")
            print("  objects added: \(builder.objectsAdded) (\(builder.bytesAdded) bytes), bodies reused: \(builder.bodiesReused), link mode: \(builder.linkMode.rawValue)")
            print(String(format: "  %.2f s, %lld bytes uncompressed", elapsed, uncompressed))
        }
    }

    private func sniff(_ path: String) throws -> LayerCompression {
        guard let h = FileHandle(forReadingAtPath: path) else { throw ImgsyncError(.io, "cannot open \(path)") }
        defer { try? h.close() }
        let prefix = Array(h.readData(ofLength: 8))
        return LayerCompression.sniff(prefix)
    }
}
