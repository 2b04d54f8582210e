import Foundation
import ImgsyncCore
import ImgsyncRepository
import ImgsyncRegistry

extension SyncEngine {
    /// `buildTree` in a build worker (`SyncOptions.workerExecutable`): this process resolves which
    /// chain to start from, downloads each missing layer (`BlobStream` verifies it) and streams it
    /// to the worker, which applies, decorates and publishes. A worker that fails reports the
    /// error as an in-process build would throw it; one that dies is this image's failure only.
    func buildTreeInWorker(_ target: SyncTarget, _ image: ResolvedImage, executable: String, into result: inout ImageResult) async throws {
        let diffIDs = image.config.diffIDs
        let chain = ChainID.chain(diffIDs)
        // Released when the worker has ended: it writes the chain catalogs itself.
        let claim = await claimChains(chain)
        defer { claim.releaseAll() }
        let reused = stride(from: chain.count, through: 1, by: -1).first {
            FileManager.default.fileExists(atPath: repository.chainCatalogPath(chain[$0 - 1]))
        } ?? 0
        result.layersReused = reused
        var layers: [BuildJob.Layer] = []
        for i in reused..<image.layers.count {
            let descriptor = image.layers[i]
            _ = try LayerMediaType(descriptor.mediaType)
            // Errors print it after "layer ": "layer 2/3 sha256:…, entry …".
            layers.append(.init(index: i, mediaType: descriptor.mediaType, label: "\(i + 1)/\(image.layers.count) \(descriptor.digest)"))
        }
        let imageID = image.configDescriptor.digest
        let sandbox = options.sandbox.map {
            BuildJob.Sandbox(config: Data(image.configBytes), reference: image.reference.description, architecture: image.sandboxArchitecture,
                             manifestDigest: image.manifestDigest.description, cvmfsCatalog: $0.cvmfsCatalog)
        }
        let job = BuildJob(root: repository.root, name: target.name.description, imageID: imageID.description,
                           linkMode: repository.resolve(options.linkMode).rawValue, worldReadable: worldReadable,
                           gzipEngine: options.gzipEngine.rawValue, limits: options.limits,
                           diffIDs: diffIDs.map(\.description), reusedLayers: reused, layers: layers, sandbox: sandbox)
        let payload = Array(try JSONEncoder().encode(job))

        let before = repository.imageID(of: target.name)
        let root = repository.root
        let nameDirectory = ([root] + target.name.components.dropLast()).joined(separator: "/")
        let worker = try WorkerProcess.buildWorker(executable: executable) { pid in
            WorkerLeftovers.remove(pid: pid, root: root, nameDirectory: nameDirectory)
        }
        do {
            try await onDedicatedThread(name: "imgsync-feed") { try worker.input.send(.job, payload) }
            for layer in layers {
                try await feedLayer(layer, of: target, image, to: worker)
                result.layersFetched += 1
                result.bytesFetched += image.layers[layer.index].size
            }
        } catch is WorkerInputClosed {
            // It stopped before the end of its input: its outcome tells why.
        } catch {
            worker.abandon()
            _ = await worker.exited()
            throw error
        }
        worker.input.close()
        let exit = await worker.exited()
        let reported = try outcome(exit, target: target, imageID: imageID, before: before)
        result.warnings += reported.warnings
        result.objectsAdded = reported.objectsAdded
        result.bytesAdded = reported.bytesAdded
        result.bodiesDeduplicated = reported.bodiesReused
        result.bytesDeduplicated = reported.bytesReused
        result.unreadableByOthers = reported.unreadableByOthers
    }

    /// Downloads one layer and streams it to the worker in `DATA` frames of about 1 MiB, straight
    /// from the downloaded buffers, then `END `. Throws `CorruptDownload` when the blob did not
    /// verify (retried once by `build`), the worker's error or death when it stopped on this layer,
    /// `WorkerInputClosed` when it had stopped before.
    private func feedLayer(_ layer: BuildJob.Layer, of target: SyncTarget, _ image: ResolvedImage, to worker: WorkerProcess) async throws {
        let descriptor = image.layers[layer.index]
        logger.info("\(target.name): fetching layer \(layer.label) (\(ByteCount.format(descriptor.size)))")
        let bridge = BlobBridge()
        progress.layer(target.name.description, layer.index + 1, of: image.layers.count, size: descriptor.size, bridge: bridge)
        let feeder = feed(client.fetchBlob(target.reference, descriptor: descriptor), into: bridge)
        do {
            try await onDedicatedThread(name: "imgsync-feed") {
                while true {
                    let chunks = try bridge.takeChunks(minimum: WorkerFrame.writeSize, maxChunks: 512)
                    if chunks.isEmpty { break }
                    try worker.input.send(chunks)
                }
                try worker.input.send(.end)
            }
        } catch let closed as WorkerInputClosed {
            // The worker stopped while this layer streamed. If the layer's content stopped it (or
            // it died on it), read the blob to its end: a digest mismatch means the bytes were not
            // the blob, a corrupt download worth a fresh try, not a bad layer.
            let exit = await worker.exited()
            let stoppedHere: Bool
            if case .signaled = exit.status {
                stoppedHere = true
            } else if let e = exit.result?.error?.error as? ImgsyncError {
                stoppedHere = Self.isLayerContentError(e) && e.layer == layer.label
            } else {
                stoppedHere = false
            }
            bridge.cancel(drain: stoppedHere)
            if !stoppedHere { feeder.cancel() }
            try Self.checkCorrupt(await feeder.value, layer: layer.label)
            throw closed
        } catch {
            // The download failed (its error came through the bridge); the worker has nothing to finish.
            bridge.cancel()
            feeder.cancel()
            try Self.checkCorrupt(await feeder.value, layer: layer.label)
            throw (error as? ImgsyncError)?.inLayer(layer.label) ?? error
        }
        _ = await feeder.value
    }

    /// Throws `CorruptDownload` when the download's own error says the bytes were not the blob.
    private static func checkCorrupt(_ download: (any Error)?, layer: String) throws {
        guard var e = download as? ImgsyncError, e.code == .digestMismatch || e.code == .sizeMismatch else { return }
        e.layer = layer
        throw CorruptDownload(error: e)
    }

    /// The worker's result, or the error it reported, or its death as this image's error.
    private func outcome(_ exit: WorkerExit, target: SyncTarget, imageID: Digest, before: Digest?) throws -> WorkerResult {
        let result = exit.result
        if case .exited(0) = exit.status, let result, result.error == nil {
            if !exit.diagnostics.isEmpty { logger.debug("\(target.name): the build worker said: \(exit.diagnostics)") }
            return result
        }
        if case .exited = exit.status, let error = result?.error {
            throw error.error
        }
        if !exit.diagnostics.isEmpty {
            logger.warning("\(target.name): the build worker's last output (for a bug report):\n\(exit.diagnostics)")
        }
        let after = repository.imageID(of: target.name)
        let tree: String
        if after != before {
            tree = after == imageID ? "the name already points to the new tree" : "the name points to \(after?.description ?? "nothing") now"
        } else {
            tree = before == nil ? "nothing was published" : "the published tree is unchanged"
        }
        throw BuildWorkerFailure(status: exit.status, firstDiagnostic: exit.firstDiagnostic, tree: tree)
    }
}

/// A build worker that died (a signal) or ended without a result: the image's error.
struct BuildWorkerFailure: Error, CustomStringConvertible {
    var status: WorkerExit.Status
    var firstDiagnostic: String?
    /// What became of the name ("the published tree is unchanged").
    var tree: String

    var description: String {
        var text: String
        switch status {
        case .signaled(let signal):
            text = "the build worker died of signal \(Self.name(signal)) (\(Self.cause(signal)))"
        case .exited(let code):
            text = "the build worker exited with status \(code) without reporting a result (a bug in imgsync: please report it)"
        }
        if let firstDiagnostic { text += ": \(firstDiagnostic)" }
        return text + "; " + tree
    }

    static func name(_ signal: Int32) -> String {
        let names: [Int32: String] = [
            SIGILL: "SIGILL", SIGTRAP: "SIGTRAP", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGSEGV: "SIGSEGV",
            SIGSYS: "SIGSYS", SIGKILL: "SIGKILL", SIGTERM: "SIGTERM", SIGINT: "SIGINT", SIGHUP: "SIGHUP", SIGQUIT: "SIGQUIT",
            SIGPIPE: "SIGPIPE", SIGXCPU: "SIGXCPU", SIGXFSZ: "SIGXFSZ",
        ]
        return names[signal] ?? "\(signal)"
    }

    static func cause(_ signal: Int32) -> String {
        switch signal {
        case SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGSYS: return "a bug in imgsync: please report it"
        case SIGKILL: return "out of memory, or killed from outside"
        case SIGXFSZ: return "a file size limit (ulimit -f)"
        case SIGXCPU: return "a CPU time limit (ulimit -t)"
        default: return "stopped from outside"
        }
    }
}
