#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ImgsyncCore
import ImgsyncRepository
import ImgsyncRegistry

/// The build worker (`imgsync build-worker`, hidden): builds and publishes one image for
/// `imgsync sync`, which starts it per image so that a trap, a failed allocation or a bad memory
/// access in one build ends only that build (docs/architecture.md, "Build workers").
///
/// It reads a `BuildJob` and then the verified layer bytes from stdin (`WorkerFrames`), starts
/// from the known chain's catalog, applies the layers, adds the sandbox files, publishes, and
/// writes a `WorkerResult` line on stdout. The parent keeps everything else: resolving,
/// downloading and verifying blobs, the lock, the state, hooks and GC.
public enum BuildWorker {
    /// Exit status when the parent closed the lifeline (it died or gave up on the image).
    static let abandoned: Int32 = 3

    /// Runs one job; returns the exit status (0 published, 1 failed and reported).
    public static func run(input: Int32 = 0, output: Int32 = 1, lifeline: Int32 = 3) -> Int32 {
        watch(lifeline: lifeline)
        var result: WorkerResult
        do {
            result = try build(WorkerFrameReader(fd: input))
        } catch {
            // The parent closes the lifeline before the input when it gives up, so an input that
            // ended is the parent leaving when the lifeline is closed too: exit as the watcher
            // would have (it may not have run yet on a busy machine).
            if isClosed(lifeline: lifeline) { return abandoned }
            result = WorkerResult(error: ReportedError(error))
        }
        var line = (try? JSONEncoder().encode(result)).map { Array($0) } ?? Array(#"{"error":{"message":"the build worker could not encode its result"}}"#.utf8)
        line.append(UInt8(ascii: "\n"))
        var written = 0
        while written < line.count {
            let n = line.withUnsafeBytes { write(output, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return 1 }
            written += n
        }
        return result.error == nil ? 0 : 1
    }

    /// Whether the lifeline's writing end is closed (without waiting and without reading).
    private static func isClosed(lifeline: Int32) -> Bool {
        var p = pollfd(fd: lifeline, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) == 1 && p.revents & Int16(POLLHUP) != 0
    }

    /// Exits at once when the lifeline reaches end of file: its only writer is the parent.
    private static func watch(lifeline: Int32) {
        var st = stat()
        guard fstat(lifeline, &st) == 0 else { return }
        let thread = Thread {
            var byte: UInt8 = 0
            while true {
                let n = read(lifeline, &byte, 1)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { _exit(abandoned) }
            }
        }
        thread.name = "imgsync-lifeline"
        thread.start()
    }

    /// The build; the builder (and with it a staging tree left by a failure) is gone when it returns.
    private static func build(_ frames: WorkerFrameReader) throws -> WorkerResult {
        let job = try JSONDecoder().decode(BuildJob.self, from: Data(try frames.readJob()))
        guard job.version == BuildJob.currentVersion else {
            throw ImgsyncError(.invalidArgument, "the build worker speaks job version \(BuildJob.currentVersion), not \(job.version) (was imgsync replaced during the run?)")
        }
        let name = try PublishedName(job.name)
        let imageID = try Digest(parsing: job.imageID)
        let diffIDs = try job.diffIDs.map { try Digest(parsing: $0) }
        guard let linkMode = LinkMode(rawValue: job.linkMode), let gzipEngine = GzipEngine(rawValue: job.gzipEngine),
              (0...diffIDs.count).contains(job.reusedLayers) else {
            throw ImgsyncError(.invalidArgument, "the build worker received an invalid job")
        }
        let repository = try Repository(root: job.root, create: false)
        let builder = try ImageBuilder(repository: repository, linkMode: linkMode, worldReadable: job.worldReadable,
                                       limits: job.limits, gzipEngine: gzipEngine)
        if job.reusedLayers > 0 {
            let known = Array(diffIDs[0..<job.reusedLayers])
            guard let catalog = try repository.readCatalog(chain: ChainID.chain(known).last!) else {
                throw ImgsyncError(.catalog, "the chain catalog of the first \(job.reusedLayers) layer(s) disappeared")
            }
            try builder.start(from: catalog, diffIDs: known)
        }
        for layer in job.layers {
            guard diffIDs.indices.contains(layer.index) else { throw ImgsyncError(.invalidArgument, "the build worker received an invalid job") }
            let source = WorkerLayerSource(frames)
            let expect = LayerExpectations(compression: try LayerMediaType(layer.mediaType).compression, diffID: diffIDs[layer.index])
            try builder.apply(LayerInput(source: source, name: layer.label, expect: expect))
            try source.finish()
        }
        var result = WorkerResult()
        if let sandbox = job.sandbox {
            let config = try ImageConfig(parsing: Array(sandbox.config), source: "the config of \(sandbox.reference)")
            result.warnings += try SandboxMetadata.add(
                to: builder, config: config, reference: sandbox.reference, architecture: sandbox.architecture,
                options: .init(manifestDigest: sandbox.manifestDigest, cvmfsCatalog: sandbox.cvmfsCatalog))
        }
        FaultInjection.beforePublishing(job.name)
        _ = try builder.publish(as: name, imageID: imageID)
        result.warnings += builder.warnings
        result.objectsAdded = builder.objectsAdded
        result.bytesAdded = builder.bytesAdded
        result.bodiesReused = builder.bodiesReused
        result.bytesReused = builder.bytesReused
        result.unreadableByOthers = builder.unreadableByOthers
        return result
    }
}

/// A test hook: `IMGSYNC_FAULT_INJECTION=trap:<published name>[,trap:<name>…]` makes the build
/// worker trap (`fatalError`, SIGILL or SIGTRAP) right before it publishes that name, to prove that
/// a crashing build fails only its image. Read by build workers only, never by an in-process build.
enum FaultInjection {
    static func beforePublishing(_ name: String) {
        guard let spec = ProcessInfo.processInfo.environment["IMGSYNC_FAULT_INJECTION"], !spec.isEmpty else { return }
        for item in spec.split(separator: ",") where item == "trap:\(name)" {
            fatalError("IMGSYNC_FAULT_INJECTION: trap before publishing \(name)")
        }
    }
}
