import Foundation
import ImgsyncCore
import NIOCore
import Testing
@testable import ImgsyncRegistry

/// Measurement, not a conformance case: pulls one large blob from a local docker-registry through the
/// client and with `skopeo copy`, and prints the throughput ratio. Runs only when
/// IMGSYNC_MEASURE_BLOB_MB is set (e.g. 200); best with `swift test -c release`.
@Suite struct BlobThroughputTests {
    static let megabytes = Int(ProcessInfo.processInfo.environment["IMGSYNC_MEASURE_BLOB_MB"] ?? "")

    @Test(.enabled(if: megabytes != nil), .timeLimit(.minutes(10)))
    func clientVersusSkopeo() async throws {
        let mb = try #require(Self.megabytes)
        try await withFakeEnvironment { env in
            let reg = try await env.registry()
            let (layout, images) = try await env.layout(#"[{"tag":"big","manifests":[{"layers":[{"random_file":["big.bin",\#(mb << 20)],"compression":"none"}]}]}]"#)
            try await env.push(layout, tag: "big", to: "\(reg.name)/lib/big:1")
            #expect(images["big"] != nil)
            try FileManager.default.removeItem(atPath: layout)
            var blobSize: Int64 = 0

            var clientSeconds: [Double] = []
            var discardSeconds: [Double] = []
            var skopeoSeconds: [Double] = []
            try await env.withClient { (client: RegistryClient) async throws in
                let ref = try ImageReference(parsing: "\(reg.name)/lib/big:1")
                let image = try await client.resolve(ref)
                // skopeo gzips the uncompressed layer on push (random data: about the same size).
                let descriptor = image.layers[0]
                #expect(descriptor.size > Int64(mb << 20))
                blobSize = descriptor.size
                for round in 0..<3 {
                    // Client, writing the verified stream to a file as the object store would.
                    let path = env.dir.file("client-\(round).bin")
                    _ = FileManager.default.createFile(atPath: path, contents: nil)
                    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                    var start = ContinuousClock.now
                    var written = 0
                    for try await chunk in client.fetchBlob(ref, descriptor: descriptor) {
                        try chunk.withUnsafeReadableBytes { try handle.write(contentsOf: $0) }
                        written += chunk.readableBytes
                    }
                    try handle.close()
                    clientSeconds.append((ContinuousClock.now - start).seconds)
                    #expect(Int64(written) == descriptor.size)
                    try FileManager.default.removeItem(atPath: path)

                    // Client, discarding the bytes (network + TLS + hashing only).
                    start = ContinuousClock.now
                    var n = 0
                    for try await chunk in client.fetchBlob(ref, descriptor: descriptor) { n += chunk.readableBytes }
                    discardSeconds.append((ContinuousClock.now - start).seconds)

                    // skopeo copy of the image (one blob that size) into a fresh directory.
                    let out = env.dir.file("skopeo-\(round)")
                    start = ContinuousClock.now
                    try await ChildProcess.run(["skopeo", "--insecure-policy", "copy", "-q", "--src-cert-dir", env.ca.certDir,
                                                "docker://\(reg.name)/lib/big:1", "dir:\(out)"], timeout: 300)
                    skopeoSeconds.append((ContinuousClock.now - start).seconds)
                    try FileManager.default.removeItem(atPath: out)
                }
            }
            let size = Double(blobSize) / 1_048_576
            func best(_ s: [Double]) -> Double { s.min() ?? .nan }
            print("""
            blob throughput, \(blobSize) bytes, best of 3:
              imgsync client (verify + write file): \(String(format: "%.2f s, %.0f MiB/s", best(clientSeconds), size / best(clientSeconds)))
              imgsync client (verify, discard):     \(String(format: "%.2f s, %.0f MiB/s", best(discardSeconds), size / best(discardSeconds)))
              skopeo copy docker:// → dir:         \(String(format: "%.2f s, %.0f MiB/s", best(skopeoSeconds), size / best(skopeoSeconds)))
              ratio client/skopeo throughput:      \(String(format: "%.2f", best(skopeoSeconds) / best(clientSeconds)))
              all rounds: client \(clientSeconds.map { String(format: "%.2f", $0) }), discard \(discardSeconds.map { String(format: "%.2f", $0) }), skopeo \(skopeoSeconds.map { String(format: "%.2f", $0) })
            """)
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
