import Foundation
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncTestSupport

/// The whole layer engine: the payload, cut into layers at `FuzzLayers.separator`, is applied layer by
/// layer into a fresh repository and tree (object store, writer threads, whiteouts, hardlinks,
/// symlinks resolved in the model). After every input nothing outside the scratch run directory may
/// have changed; after a successful apply the tree must match its catalog exactly (`TreeAudit`), the
/// catalog must survive its codec, and every stored object must hash to its name. Option bits: 0 skips
/// tar checksums, 1 chooses copy mode instead of hardlink mode, 5–7 the chunk size.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzApply(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = FuzzInput(data, size)
    let scratch = Scratch.current ?? Scratch()
    Scratch.current = scratch
    Scratch.remove(scratch.run)
    defer {
        scratch.checkSentinel()
        Scratch.remove(scratch.run)
    }
    guard mkdir(scratch.run, 0o700) == 0, mkdir(scratch.run + "/tree", 0o700) == 0, mkdir(scratch.run + "/aux", 0o700) == 0 else {
        finding("cannot prepare \(scratch.run): errno \(errno)")
    }
    let treeFd = open(scratch.run + "/tree", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    let auxFd = open(scratch.run + "/aux", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    defer {
        close(treeFd)
        close(auxFd)
    }
    let mode: LinkMode = input.flag(1) ? .copy : .hardlink
    do {
        let repository = try Repository(root: scratch.run + "/repo")
        let store = try ObjectStore(repositoryFd: repository.rootFd, mode: mode)
        let applier = LayerApplier(rootFd: treeFd, auxiliaryFd: auxFd, store: store, limits: FuzzLimits.layer)
        for (i, layer) in FuzzLayers.split(input.payload).enumerated() {
            let reader = TarReader(source: MemoryChunkSource(layer, chunkSize: min(input.pieceSize, 1 << 20)),
                                   limits: FuzzLimits.layer)
            reader.verifiesChecksums = !input.flag(0)
            try applier.apply(reader, name: "L\(i + 1)")
        }
        try applier.finish()
        let catalog = applier.snapshot()
        if (try? CatalogCodec.decode(CatalogCodec.encode(catalog))) != catalog {
            finding("the catalog does not survive encoding and decoding")
        }
        let differences = TreeAudit.differences(treeFd: treeFd, catalog: catalog, shared: mode == .hardlink)
        if !differences.isEmpty { finding("the tree differs from its catalog: \(differences.prefix(5))") }
        checkObjects(scratch.run + "/repo/.objects")
    } catch let e as ImgsyncError where e.code == .io && e.errno != ENOSPC && e.errno != EDQUOT {
        // The names are checked first, so an I/O error other than a full scratch filesystem (a small
        // /dev/shm in a container) means the model and the disk disagree.
        finding("I/O error applying a layer: \(e)")
    } catch {
        checkReported(error)
    }
    return 0
}

enum FuzzLayers {
    static let separator = Array("IMGSYNC-FUZZ-NEXT-LAYER".utf8)

    /// The payload cut at each separator (at most four layers; the rest stays in the last).
    static func split(_ payload: [UInt8]) -> [[UInt8]] {
        var layers: [[UInt8]] = []
        var start = 0
        var i = 0
        while i + separator.count <= payload.count, layers.count < 3 {
            if payload[i..<(i + separator.count)].elementsEqual(separator) {
                layers.append(Array(payload[start..<i]))
                i += separator.count
                start = i
            } else {
                i += 1
            }
        }
        layers.append(Array(payload[start...]))
        return layers
    }
}

/// I3: every object's body hashes to its name. (Read with read(2): swift-foundation's
/// `FileManager.contents(atPath:)` leaks a 4 KiB buffer on an empty file, which LeakSanitizer reports.)
private func checkObjects(_ objects: String) {
    for shard in (try? FileManager.default.contentsOfDirectory(atPath: objects)) ?? [] where shard.count == 2 {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: objects + "/" + shard)) ?? [] {
            let fd = open(objects + "/" + shard + "/" + name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { finding("cannot open object \(shard)/\(name): errno \(errno)") }
            defer { close(fd) }
            let hasher = SHA256Hasher()
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
            if hasher.finalize().hex != shard + String(name.prefix(62)) {
                finding("object \(shard)/\(name) does not hash to its name")
            }
        }
    }
}
