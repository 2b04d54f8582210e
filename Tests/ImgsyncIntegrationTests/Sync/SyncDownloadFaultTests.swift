import Foundation
import ImgsyncCore
import ImgsyncRepository
import ImgsyncRegistry
import ImgsyncTestSupport
import Testing
@testable import ImgsyncSync

/// Issue 10 items 14 and 15: faults a real registry does not produce, from a scripted server. The
/// corrupt-download retry is checked with builds in a build worker and in this process.
@Suite(.timeLimit(.minutes(3))) struct SyncDownloadFaultTests {
    let e2e = SyncEndToEndTests()

    /// A gzip layer of a few hundred files, its DiffID, and a copy with one byte flipped in the middle.
    static func layers() -> (good: [UInt8], corrupt: [UInt8], diffID: Digest) {
        var t = TarBuilder()
        t.dir("data/")
        var bytes = SeededBytes(seed: 9)
        for i in 0..<300 { t.file("data/f\(i)", String(decoding: bytes.bytes(200).map { 0x61 + $0 % 26 }, as: UTF8.self)) }
        let tar = t.build()
        let good = LayerCompressors.gzip(tar)
        var corrupt = good
        corrupt[corrupt.count / 2] ^= 0x5A
        return (good, corrupt, SHA256Hasher.hash(tar))
    }

    func target(_ server: ScriptedServer) throws -> SyncTarget {
        SyncTarget(name: try PublishedName("lib/a:1"), reference: try ImageReference(parsing: "\(server.name)/lib/a:1"),
                   platform: .linuxAMD64, origin: "images.txt:1")
    }

    /// The image's routes, with the layer's answers given in order (the last one repeats).
    func routes(_ image: FakeImage, layerAnswers: [[UInt8]]) -> [Route] {
        var routes = image.routes().filter { !($0.path ?? "").hasSuffix("\(image.layerDigests[0])") }
        var layer = Route("GET", "/v2/lib/a/blobs/\(image.layerDigests[0])", .bytes(layerAnswers[0]))
        layer.responses = layerAnswers.map { Reply.bytes($0) }
        routes.append(layer)
        return routes
    }

    func layerGets(_ server: ScriptedServer, _ image: FakeImage) -> Int {
        server.requests().filter { $0.method == "GET" && $0.path.hasSuffix("\(image.layerDigests[0])") }.count
    }

    /// A byte flipped in transit: the layer fails to parse, the digest tells it was the download,
    /// and one fresh download publishes the image.
    @Test(arguments: [true, false]) func aCorruptDownloadIsRetriedOnce(inWorker: Bool) async throws {
        let (good, corrupt, diffID) = Self.layers()
        let image = FakeImage.make(layers: [good], diffIDs: [diffID])
        try await withFakeEnvironment { env in
            let server = try await env.server("127.0.0.1", routes(image, layerAnswers: [corrupt, good]))
            let root = env.dir.file("root")
            let report = try await e2e.sync(env, root: root, [try target(server)]) { $0.workerExecutable = inWorker ? imgsyncExecutable : nil }
            #expect(report.exitCode == 0, "\(report.text())")
            #expect(report.count(.added) == 1)
            #expect(layerGets(server, image) == 2)
            #expect(FileManager.default.fileExists(atPath: root + "/lib/a:1/data/f299"))
        }
    }

    /// Corrupt twice: the image fails with a transport error naming the digest, not a tar error.
    @Test(arguments: [true, false]) func twoCorruptDownloadsAreADigestMismatch(inWorker: Bool) async throws {
        let (good, corrupt, diffID) = Self.layers()
        let image = FakeImage.make(layers: [good], diffIDs: [diffID])
        try await withFakeEnvironment { env in
            let server = try await env.server("127.0.0.1", routes(image, layerAnswers: [corrupt]))
            let report = try await e2e.sync(env, root: env.dir.file("root"), [try target(server)]) { $0.workerExecutable = inWorker ? imgsyncExecutable : nil }
            // The only image failed: nothing was published (exit 3).
            #expect(report.exitCode == 3 && report.count(.failed) == 1)
            let error = report.images.first?.error ?? ""
            #expect(error.hasSuffix("[digest-mismatch]"), "\(error)")
            #expect(error.contains("layer 1/1 \(image.layerDigests[0])"), "\(error)")
            #expect(!error.contains("layer layer"), "\(error)")
            #expect(layerGets(server, image) == 2)
        }
    }

    /// A blob that verifies and still does not parse is the layer's fault: no second download.
    @Test(arguments: [true, false]) func aVerifiedBlobThatDoesNotParseIsAContentError(inWorker: Bool) async throws {
        let (_, corrupt, diffID) = Self.layers()
        let image = FakeImage.make(layers: [corrupt], diffIDs: [diffID])
        try await withFakeEnvironment { env in
            let server = try await env.server("127.0.0.1", routes(image, layerAnswers: [corrupt]))
            let report = try await e2e.sync(env, root: env.dir.file("root"), [try target(server)]) { $0.workerExecutable = inWorker ? imgsyncExecutable : nil }
            // The only image failed: nothing was published (exit 3).
            #expect(report.exitCode == 3 && report.count(.failed) == 1)
            let error = report.images.first?.error ?? ""
            #expect(error.hasSuffix("[decompress]") || error.hasSuffix("[tar-format]"), "\(error)")
            #expect(layerGets(server, image) == 1)
        }
    }

    /// Item 15 in a sync: the image whose layer trickles fails on its own, with the hint, and the
    /// other image of the run is published.
    @Test func aTricklingImageFailsAloneInASync() async throws {
        let (good, _, diffID) = Self.layers()
        let fast = FakeImage.make(layers: [good], diffIDs: [diffID])
        // A real layer (the build reads it as it arrives) of incompressible bodies, about 200 kB gzipped.
        var t = TarBuilder()
        var bytes = SeededBytes(seed: 5)
        for i in 0..<20 { t.file("slow/f\(i)", bytes.bytes(10_000)) }
        let tar = t.build()
        let slow = FakeImage.make(layers: [LayerCompressors.gzip(tar)], diffIDs: [SHA256Hasher.hash(tar)])
        try await withFakeEnvironment { env in
            var routes = fast.routes(repo: "lib/a").filter { !($0.path ?? "").hasSuffix("\(fast.layerDigests[0])") }
            routes.append(Route("GET", "/v2/lib/a/blobs/\(fast.layerDigests[0])", .bytes(fast.layers[0])))
            routes += slow.routes(repo: "lib/b").filter { !($0.path ?? "").hasSuffix("\(slow.layerDigests[0])") }
            routes.append(Route("GET", "/v2/lib/b/blobs/\(slow.layerDigests[0])", Reply.bytes(slow.layers[0]).with { $0.trickle = 4_000 }))
            let server = try await env.server("127.0.0.1", routes)
            let targets = [
                SyncTarget(name: try PublishedName("lib/a:1"), reference: try ImageReference(parsing: "\(server.name)/lib/a:1"),
                           platform: .linuxAMD64, origin: "images.txt:1"),
                SyncTarget(name: try PublishedName("lib/b:1"), reference: try ImageReference(parsing: "\(server.name)/lib/b:1"),
                           platform: .linuxAMD64, origin: "images.txt:2"),
            ]
            let root = env.dir.file("root")
            let started = Date()
            let report = try await e2e.sync(env, root: root, targets, client: { $0.minimumBlobSpeed = 20_000; $0.blobSpeedGrace = .seconds(2) })
            #expect(report.exitCode == 1, "\(report.text())")
            #expect(report.count(.added) == 1 && report.count(.failed) == 1)
            let failed = report.images.first { $0.name == "lib/b:1" }?.error ?? ""
            #expect(failed.contains("slower than the minimum average") && failed.contains("--min-blob-speed"), "\(failed)")
            #expect(FileManager.default.fileExists(atPath: root + "/lib/a:1"))
            #expect(!FileManager.default.fileExists(atPath: root + "/lib/b:1"))
            // 200 kB at 4 kB/s would take 50 s (and retries more); the run ends soon after the grace.
            #expect(Date().timeIntervalSince(started) < 45)
        }
    }

    /// Item 15: a download that trickles (never idle long enough for the read timeout) fails once
    /// its average falls below the minimum speed, instead of holding the run forever.
    @Test func aTricklingDownloadFailsAtTheMinimumSpeed() async throws {
        let small = FakeImage.make(layerSizes: [200_000], seed: 4)
        try await withFakeEnvironment { env in
            let trickle = Reply.bytes(small.layers[0]).with { $0.trickle = 4_000 }
            let server = try await env.server("127.0.0.1", [Route("*", "/v2/", .json("{}")), Route("GET", "/v2/lib/a/blobs/\(small.layerDigests[0])", trickle)])
            let started = Date()
            await #expect {
                try await env.withClient({ $0.minimumBlobSpeed = 20_000; $0.blobSpeedGrace = .seconds(2) }) {
                    try await drain($0.fetchBlob(ImageReference(parsing: "\(server.name)/lib/a:1"), descriptor: small.layerDescriptor()))
                }
            } throws: { error in
                let e = error as? ImgsyncError
                return e?.code == .timeout && e?.message.contains("slower than the minimum average") == true
                    && e?.message.contains("--min-blob-speed") == true
            }
            // 200 kB at 4 kB/s would take 50 s; the check ends it soon after the 2 s grace.
            #expect(Date().timeIntervalSince(started) < 30)
        }
    }
}
