import Foundation
import ImgsyncCore
import ImgsyncRegistry

/// An image made in memory for scripted servers: random layer bytes, a config and a manifest.
struct FakeImage: Sendable {
    var layers: [[UInt8]]
    var layerMediaType: String
    var config: [UInt8]
    var configDigest: Digest
    var manifest: [UInt8]
    var manifestDigest: Digest
    var manifestMediaType: String

    var layerDigests: [Digest] { layers.map { SHA256Hasher.hash($0) } }

    static func make(
        layerSizes: [Int] = [1000], layerMediaType: String = MediaType.ociLayerGzip,
        configMediaType: String = MediaType.ociConfig, manifestMediaType: String = MediaType.ociManifest,
        env: [String] = ["PATH=/usr/bin"], seed: UInt8 = 1, diffIDCount: Int? = nil
    ) -> FakeImage {
        var generator = SeededBytes(seed: seed)
        let layers = layerSizes.map { generator.bytes($0) }
        let diffIDs = (0..<(diffIDCount ?? layers.count)).map { "\"sha256:\(String(repeating: String($0 % 10), count: 64))\"" }
        return make(layers: layers, diffIDs: diffIDs, layerMediaType: layerMediaType, configMediaType: configMediaType,
                    manifestMediaType: manifestMediaType, env: env)
    }

    /// An image of real layer blobs with their DiffIDs (a sync can build it).
    static func make(layers: [[UInt8]], diffIDs: [Digest], layerMediaType: String = MediaType.ociLayerGzip) -> FakeImage {
        make(layers: layers, diffIDs: diffIDs.map { "\"\($0)\"" }, layerMediaType: layerMediaType, configMediaType: MediaType.ociConfig,
             manifestMediaType: MediaType.ociManifest, env: ["PATH=/usr/bin"])
    }

    private static func make(layers: [[UInt8]], diffIDs: [String], layerMediaType: String, configMediaType: String,
                             manifestMediaType: String, env: [String]) -> FakeImage {
        let config = Array(#"{"architecture":"amd64","os":"linux","config":{"Env":\#(jsonArray(env)),"Cmd":["/bin/sh"],"Labels":{"org.example":"yes"}},"rootfs":{"type":"layers","diff_ids":[\#(diffIDs.joined(separator: ","))]}}"#.utf8)
        let configDigest = SHA256Hasher.hash(config)
        let layerJSON = layers.map { #"{"mediaType":"\#(layerMediaType)","digest":"\#(SHA256Hasher.hash($0))","size":\#($0.count)}"# }
        let manifest = Array(#"{"schemaVersion":2,"mediaType":"\#(manifestMediaType)","config":{"mediaType":"\#(configMediaType)","digest":"\#(configDigest)","size":\#(config.count)},"layers":[\#(layerJSON.joined(separator: ","))]}"#.utf8)
        return FakeImage(layers: layers, layerMediaType: layerMediaType, config: config, configDigest: configDigest,
                         manifest: manifest, manifestDigest: SHA256Hasher.hash(manifest), manifestMediaType: manifestMediaType)
    }

    func layerDescriptor(_ i: Int = 0) -> Descriptor {
        Descriptor(mediaType: layerMediaType, digest: layerDigests[i], size: Int64(layers[i].count))
    }

    /// A manifest reply with the right Content-Type and Docker-Content-Digest.
    var manifestReply: Reply {
        .bytes(manifest, headers: [("Content-Type", manifestMediaType), ("Docker-Content-Digest", manifestDigest.description)])
    }

    /// Routes serving this image as `repo:tag` (manifest by tag and digest, config, layers).
    func routes(repo: String = "lib/a", tag: String = "1") -> [Route] {
        var routes = [
            Route("*", "/v2/", .json("{}")),
            Route("*", "/v2/\(repo)/manifests/\(tag)", manifestReply),
            Route("*", "/v2/\(repo)/manifests/\(manifestDigest)", manifestReply),
            Route("GET", "/v2/\(repo)/blobs/\(configDigest)", .bytes(config)),
        ]
        for (i, layer) in layers.enumerated() {
            routes.append(Route("GET", "/v2/\(repo)/blobs/\(layerDigests[i])", .bytes(layer)))
        }
        return routes
    }
}

func jsonArray(_ items: [String]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: items), as: UTF8.self)
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
struct SeededBytes {
    var state: UInt64
    init(seed: UInt8) { state = 0x9E37_79B9_7F4A_7C15 &* UInt64(seed &+ 1) }
    mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count)
        while out.count < count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            withUnsafeBytes(of: state) { out.append(contentsOf: $0.prefix(count - out.count)) }
        }
        return out
    }
}

/// Reads a whole blob stream.
func drain(_ stream: BlobStream) async throws -> [UInt8] {
    var out: [UInt8] = []
    for try await chunk in stream { out += chunk.readableBytesView }
    return out
}

func errorCode(_ error: any Error) -> ImgsyncError.Code? { (error as? ImgsyncError)?.code }
