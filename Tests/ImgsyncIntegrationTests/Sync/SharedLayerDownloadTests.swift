import Foundation
import ImgsyncCore
import ImgsyncRegistry
import ImgsyncTestSupport
import Testing
@testable import ImgsyncSync

/// Issue 9: a base layer needed by two images built at the same time (`--jobs 2`) is downloaded
/// once, and the report counts requests and bytes per registry as the registry saw them.
@Suite(.timeLimit(.minutes(5))) struct SharedLayerDownloadTests {
    let e2e = SyncEndToEndTests()

    /// Two images on one base layer of `files` small files (enough work that both builds are
    /// under way before the first has applied it), each with one small layer of its own.
    static func imagesJSON(files: Int) -> String {
        let base = (0..<files).map { #""base/f\#($0)":"body \#($0)""# }.joined(separator: ",")
        return """
        [{"tag":"a","manifests":[{"config":{"Env":["A=1"]},"layers":[{"files":{\(base)}},{"files":{"own/a":"a"}}]}]},
         {"tag":"b","manifests":[{"config":{"Env":["B=1"]},"layers":[{"files":{\(base)}},{"files":{"own/b":"b"}}]}]}]
        """
    }

    @Test(arguments: [true, false]) func concurrentBuildsDownloadASharedBaseLayerOnce(inWorker: Bool) async throws {
        try await withFakeEnvironment { env in
            let reg = try await env.registry(accessLog: true)
            let (layout, images) = try await env.layout(Self.imagesJSON(files: 3000))
            try await env.push(layout, tag: "a", to: "\(reg.name)/org/a:1")
            try await env.push(layout, tag: "b", to: "\(reg.name)/org/b:1")
            let baseLayer = try #require(images["a"]?.manifests.first?.layers.first)
            #expect(images["b"]?.manifests.first?.layers.first?.digest == baseLayer.digest)
            let pushed = reg.blobGets().count
            let pushRequests = reg.requests().count

            let root = env.dir.file("root")
            let report = try await e2e.sync(env, root: root, [try e2e.target(reg, "org/a:1"), try e2e.target(reg, "org/b:1")]) {
                $0.jobs = 2
                if !inWorker { $0.workerExecutable = nil }
            }
            #expect(report.count(.added) == 2, "\(report.text())")
            #expect(e2e.read(root + "/org/a:1/base/f2999") == "body 2999")
            #expect(e2e.read(root + "/org/b:1/own/b") == "b")

            let gets = reg.blobGets().dropFirst(pushed)
            #expect(gets.filter { $0.contains(baseLayer.digest) }.count == 1, "the base layer was downloaded more than once: \(gets)")
            // One build started from the other's chain.
            #expect(report.images.map(\.layersReused).sorted() == [0, 1], "\(report.images.map { ($0.name, $0.layersReused) })")

            // The report's counts are what the registry logged: two configs, the base layer once,
            // each image's own layer.
            let traffic = try #require(report.registries?[reg.name], "\(String(describing: report.registries))")
            #expect(traffic.count("GET blob") == gets.count)
            #expect(traffic.count("GET blob") == 5)
            #expect(traffic.count("HEAD manifest") == 2)
            let manifestGets = reg.requests().dropFirst(pushRequests).filter { $0.hasPrefix("GET ") && $0.contains("/manifests/") }
            #expect(traffic.count("GET manifest") == manifestGets.count && !manifestGets.isEmpty, "\(traffic)")
            let layerBytes = images.values.flatMap { $0.manifests.flatMap { $0.layers.map(\.size) } }
            #expect(traffic.bytes > Int64(baseLayer.size), "\(traffic.bytes) bytes counted")
            #expect(traffic.bytes < Int64(layerBytes.reduce(0, +) + 100_000), "the base layer counted twice? \(traffic.bytes)")

            // Nothing changed: HEADs only, and the counters start from zero in each run.
            let again = try await e2e.sync(env, root: root, [try e2e.target(reg, "org/a:1"), try e2e.target(reg, "org/b:1")]) {
                if !inWorker { $0.workerExecutable = nil }
            }
            let second = try #require(again.registries?[reg.name])
            #expect(second.count("HEAD manifest") == 2)
            #expect(second.count("GET blob") == 0 && second.count("GET manifest") == 0, "\(second)")
        }
    }
}
