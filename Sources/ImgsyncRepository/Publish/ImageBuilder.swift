#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// One layer to apply: where its bytes come from, what it is called in messages, what to verify.
public struct LayerInput {
    public var source: any CompressedSource
    public var name: String
    public var expect: LayerExpectations

    public init(source: any CompressedSource, name: String, expect: LayerExpectations) {
        self.source = source
        self.name = name
        self.expect = expect
    }
}

/// The result of publishing an image.
public struct PublishedImage: Sendable {
    public var name: PublishedName
    public var imageID: Digest
    /// Absolute path of the tree.
    public var treePath: String
    public var entries: Int
    /// Whether the tree already existed (same image id) and the staging copy was discarded.
    public var reused: Bool
}

/// Builds one image's tree in `.imgsync/staging/`, layer by layer, writing the chain catalog after
/// each layer, then publishes it atomically. Anything that fails leaves no visible trace: a builder
/// that goes without publishing removes its staging directory (`TreeRemover`, whatever the names)
/// and the objects it stored that no catalog lists and no other build uses.
public final class ImageBuilder {
    public let repository: Repository
    public let linkMode: LinkMode
    public let worldReadable: Bool
    let limits: LayerLimits
    let gzipEngine: GzipEngine
    /// `.imgsync/staging`, and this build's directory in it (`build-…`, holding `tree` and `aux`).
    let stagingFd: OwnedDescriptor
    let buildName: PathBytes
    let buildFd: OwnedDescriptor
    let treeFd: OwnedDescriptor
    let auxFd: OwnedDescriptor
    let store: ObjectStore
    let applier: LayerApplier
    public private(set) var diffIDs: [Digest] = []
    public private(set) var layerDigests: [LayerDigests] = []
    private var imageBytes: Int64 = 0
    var done = false
    /// Paths of the published tree that users other than the owner cannot read on disk (a CVMFS
    /// client hides them from everyone but root); set by `publish`.
    public private(set) var unreadableByOthers = 0
    /// What messages call the image being built (e.g. its published name); errors writing its
    /// catalogs name it.
    public var imageName: String?

    /// `worldReadable`: tree files and directories a+rX on disk (docs/design.md §2). A repository is one or
    /// the other: a builder whose setting differs from the existing trees' is refused.
    public convenience init(repository: Repository, linkMode: LinkMode = .auto, worldReadable: Bool = false,
                            limits: LayerLimits = LayerLimits(), gzipEngine: GzipEngine = .isal) throws {
        try self.init(repository: repository, linkMode: linkMode, worldReadable: worldReadable, limits: limits, gzipEngine: gzipEngine,
                      objectLinkLimit: nil)
    }

    /// `objectLinkLimit` is a test seam: the link count at which the object store treats an object
    /// inode as full (`EMLINK`), instead of the filesystem's limit. So is `openDirectoryLimit`: the
    /// applier's cache of directory fds (`LayerApplier.defaultMaxOpenDirs`), small to make it evict.
    package init(repository: Repository, linkMode: LinkMode = .auto, worldReadable: Bool = false,
                 limits: LayerLimits = LayerLimits(), gzipEngine: GzipEngine = .isal, objectLinkLimit: Int?,
                 openDirectoryLimit: Int? = nil) throws {
        try repository.checkWorldReadable(worldReadable)
        self.repository = repository
        self.linkMode = repository.resolve(linkMode)
        self.worldReadable = worldReadable
        self.limits = limits
        self.gzipEngine = gzipEngine
        stagingFd = try repository.makeDirectory(".imgsync/staging")
        buildName = Array(TemporaryName.next(prefix: "build-").utf8)
        do {
            try Syscall.mkdir(at: stagingFd.rawValue, buildName, mode: 0o700)
        } catch let e as ImgsyncError {
            throw ImgsyncError(.io, "cannot create a staging directory in \(repository.root)/.imgsync/staging: \(e.errno.map(Syscall.errorString) ?? e.message)",
                               errno: e.errno, cause: e)
        }
        do {
            buildFd = try OwnedDescriptor.directory(at: stagingFd.rawValue, buildName)
            for d in ["tree", "aux"] { try Syscall.mkdir(at: buildFd.rawValue, Array(d.utf8), mode: 0o700) }
            treeFd = try OwnedDescriptor.directory(at: buildFd.rawValue, Array("tree".utf8))
            auxFd = try OwnedDescriptor.directory(at: buildFd.rawValue, Array("aux".utf8))
            store = try ObjectStore(repositoryFd: repository.rootFd, mode: self.linkMode, worldReadable: worldReadable,
                                    pending: repository.pendingObjects, linkLimit: objectLinkLimit)
        } catch {
            _ = try? TreeRemover.remove(buildName, in: stagingFd.rawValue)
            throw error
        }
        applier = LayerApplier(rootFd: treeFd.rawValue, auxiliaryFd: auxFd.rawValue, store: store, limits: limits,
                               maxOpenDirs: openDirectoryLimit ?? LayerApplier.defaultMaxOpenDirs)
    }

    deinit {
        if !done {
            // The tree's links go first: an object is taken back only when nothing links to it.
            // (What cannot be removed here stays in staging for the next `cleanStaging`, which reports it.)
            _ = try? TreeRemover.remove(buildName, in: stagingFd.rawValue)
            store.abandonCreatedObjects()
        }
        // Now, not when the writer threads let go of the store.
        store.end()
    }

    /// How messages name the image being built.
    var label: String { imageName ?? "the image being built" }

    public var warnings: [String] { applier.warnings }
    public var objectsAdded: Int { store.objectsAdded }
    public var bytesAdded: Int64 { store.bytesAdded }
    public var bodiesReused: Int { store.bodiesReused }
    public var bytesReused: Int64 { store.bytesReused }

    /// Starts from a known chain's catalog (links and mkdirs only) instead of applying its layers.
    /// `trustHints`: see `LayerApplier.load` (false for a repair: every object is looked at).
    public func start(from catalog: [CatalogEntry], diffIDs: [Digest], trustHints: Bool = true) throws {
        precondition(self.diffIDs.isEmpty, "start(from:) must come before any layer")
        try applier.load(catalog: catalog, trustHints: trustHints)
        self.diffIDs = diffIDs
    }

    /// Streams one layer into the tree. On error the build must be abandoned.
    @discardableResult
    public func apply(_ layer: LayerInput) throws -> LayerDigests {
        let budget = min(limits.maxLayerBytes, limits.maxImageBytes - imageBytes)
        let pipeline = LayerPipeline(source: layer.source, expect: layer.expect, gzipEngine: gzipEngine, maxBytes: budget)
        // The reader bounds the expanded size (sparse holes included) by the same budget.
        var readerLimits = limits
        readerLimits.maxLayerBytes = budget
        let reader = TarReader(source: pipeline, limits: readerLimits)
        do {
            try applier.apply(reader, name: layer.name)
        } catch let e as ImgsyncError {
            pipeline.cancel()
            throw e.inLayer(layer.name)
        } catch {
            pipeline.cancel()
            throw error
        }
        let digests: LayerDigests
        do {
            digests = try pipeline.finish()
        } catch let e as ImgsyncError {
            throw e.inLayer(layer.name)
        }
        imageBytes += TarReader.saturatingSum(digests.uncompressedSize, reader.holeBytes)
        diffIDs.append(digests.diffID)
        layerDigests.append(digests)
        let chain = ChainID.chain(diffIDs).last!
        let path = repository.chainCatalogPath(chain)
        if access(path, F_OK) != 0 {
            try repository.writeCatalog(path, what: "the chain catalog after layer \(layer.name) of \(label)") { encoder in
                applier.forEachCatalogEntry { encoder.add($0) }
            }
        }
        // A catalog lists this layer's bodies now: they stay even if a later layer fails.
        store.commitCreatedObjects()
        return digests
    }

    /// Applies a tar the publisher generates itself (the Apptainer sandbox files, docs/design.md §2) on top
    /// of the layers. It is part of the image's catalog but of no chain catalog, and has no DiffID.
    public func applyGenerated(_ tar: [UInt8], name: String) throws {
        let expect = LayerExpectations(compression: .none)
        let pipeline = LayerPipeline(source: BytesSource(tar), expect: expect, gzipEngine: gzipEngine, maxBytes: limits.maxLayerBytes)
        let reader = TarReader(source: pipeline, limits: limits)
        do {
            try applier.apply(reader, name: name)
            _ = try pipeline.finish()
        } catch let e as ImgsyncError {
            pipeline.cancel()
            throw e.inLayer(name)
        }
    }

    /// The current state of a path in the tree being built (nil when absent), without following
    /// a symlink at the last component (earlier ones are resolved inside the root): for generated
    /// files that must not replace what the image has. `path + "/."` asks whether `path` leads to
    /// a directory, following a symlink there too.
    public func existingType(_ path: String) -> CatalogEntryType? {
        applier.type(at: PathBytes(path.utf8))
    }

    /// The target of the symlink at `path` in the tree being built (earlier components resolved
    /// as in `existingType`), or nil when `path` is not a symlink.
    public func existingLinkTarget(_ path: String) -> [UInt8]? {
        applier.linkTarget(at: PathBytes(path.utf8))
    }

    /// The image id when no config digest is known: the ChainID of all layers.
    public var chainID: Digest? { ChainID.chain(diffIDs).last }

    /// Finishes directory metadata, writes the image catalog, renames the tree into `.images/`
    /// and swaps the name's symlink. `imageID` defaults to the ChainID.
    public func publish(as name: PublishedName, imageID: Digest? = nil) throws -> PublishedImage {
        let id = imageID ?? chainID ?? Digest.empty
        try applier.finish()
        // The catalog is encoded, counted and summed in one walk of the model, never held as a list
        // (and written to its file as it is encoded).
        var unreadable = RepositoryStats.UnreadableCounter()
        var bytes: Int64 = 0
        var entries = 0
        let count = { [worldReadable, store] (e: CatalogEntry) in
            entries += 1
            unreadable.add(e.path, e.type, UInt32(e.type == .directory ? ObjectStore.directoryMode(e.mode, worldReadable: worldReadable) : store.fileMode(e.mode)))
            if e.type == .regular { bytes += e.size }
        }
        let imagePath = repository.imagePath(id)
        let (shard, rest) = Repository.shardName(id)
        let images = try repository.makeDirectory(".images")
        let image = "\(name) (\(id))"
        var reused = false
        if try Syscall.lstat(at: images.rawValue, shard + [0x2F] + rest) != nil {
            reused = true
            applier.forEachCatalogEntry(count)
            unreadableByOthers = unreadable.count
        } else {
            try repository.writeCatalog(repository.imageCatalogPath(id), what: "the image catalog of \(image)") { encoder in
                applier.forEachCatalogEntry { encoder.add($0); count($0) }
            }
            unreadableByOthers = unreadable.count
            try repository.writeImageRecord(ImageRecord(imageID: id, diffIDs: diffIDs, entries: entries, bytes: bytes, linkMode: linkMode,
                                                        worldReadable: worldReadable), image: image)
            try Syscall.makeDirectory(at: images.rawValue, shard, mode: 0o755)
            let shardFd = try OwnedDescriptor.directory(at: images.rawValue, shard)
            do {
                try Syscall.rename(at: buildFd.rawValue, Array("tree".utf8), to: shardFd.rawValue, rest, replace: false)
            } catch let e as ImgsyncError {
                throw ImgsyncError(.io, "cannot publish the tree of \(image) as \(imagePath): \(e.errno.map(Syscall.errorString) ?? e.message)",
                                   errno: e.errno, cause: e)
            }
        }
        // The image catalog lists every body of the tree.
        store.commitCreatedObjects()
        try repository.link(name, to: id)
        done = true
        store.end()
        // The tree is published; what stays of staging (aux, and the tree when it was reused) goes
        // now, or with the next `cleanStaging`.
        _ = try? TreeRemover.remove(buildName, in: stagingFd.rawValue)
        return PublishedImage(name: name, imageID: id, treePath: imagePath, entries: entries, reused: reused)
    }

    /// The catalog as it stands (tests and `imgsync catalog` before publishing).
    public func snapshot() -> [CatalogEntry] { applier.snapshot() }
}

extension Repository {
    /// The shard directory name and the tree's name in it, as bytes: `ab`, `cdef…`.
    package static func shardName(_ d: Digest) -> (shard: PathBytes, rest: PathBytes) {
        let hex = Array(d.hex.utf8)
        return (Array(hex[0..<2]), Array(hex[2...]))
    }

    /// Points `name` at the image tree: a relative symlink created under a temporary name and
    /// renamed over the old one, so readers see either the old or the new tree, never neither.
    public func link(_ name: PublishedName, to imageID: Digest) throws {
        let up = String(repeating: "../", count: name.components.count - 1)
        try placeLink(name, text: up + ".images/" + Repository.shard(imageID))
    }

    /// Makes `name` a CVMFS variant symlink (`CVMFSVariantLink`) to its sibling alias
    /// `<name>@$(CVMFS_ARCH:-<defaultMachine>)`, replacing the old link atomically like `link`.
    public func linkVariant(_ name: PublishedName, defaultMachine: String) throws {
        _ = try name.machineAlias(defaultMachine)
        try placeLink(name, text: CVMFSVariantLink.text(basename: name.components.last!, defaultMachine: defaultMachine))
    }

    private func placeLink(_ name: PublishedName, text: String) throws {
        var dir = root
        for c in name.components.dropLast() {
            dir += "/" + c
            var st = stat()
            if lstat(dir, &st) == 0 {
                guard (st.st_mode & S_IFMT) == S_IFDIR else {
                    throw ImgsyncError(.invalidArgument, "cannot publish \(name): \(dir) exists and is not a directory")
                }
            } else if mkdir(dir, 0o755) != 0 && errno != EEXIST {
                throw Syscall.failure("create", dir)
            }
        }
        let final = root + "/" + name.description
        let tmp = dir + "/" + TemporaryName.next(prefix: ".imgsync-link-")
        if symlink(text, tmp) != 0 { throw Syscall.failure("create symlink", tmp) }
        if rename(tmp, final) != 0 {
            let e = errno
            unlink(tmp)
            throw Syscall.failure("publish", final, e)
        }
    }

    /// The image id a published name points to, or nil. For a CVMFS variant symlink (which
    /// resolves only inside CVMFS): the tree of its default alias, `<name>@<machine>` — the first
    /// listed platform's tree, which the name's state record names too. Every reader that learns a
    /// name's tree from its link (the sync's unchanged check, `list`, `status`, `verify`, GC's
    /// live set, `catalog`) goes through here.
    public func imageID(of name: PublishedName) -> Digest? {
        guard let text = linkText(of: name) else { return nil }
        if let machine = CVMFSVariantLink.defaultMachine(text: text, basename: name.components.last!) {
            guard let alias = try? name.machineAlias(machine), let aliasText = linkText(of: alias) else { return nil }
            return Repository.treeID(linkText: aliasText)
        }
        return Repository.treeID(linkText: text)
    }

    /// The default machine of `name` when it is a CVMFS variant symlink, else nil.
    public func variantDefault(of name: PublishedName) -> String? {
        linkText(of: name).flatMap { CVMFSVariantLink.defaultMachine(text: $0, basename: name.components.last!) }
    }

    private func linkText(of name: PublishedName) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/" + name.description)
    }

    private static func treeID(linkText target: String) -> Digest? {
        let parts = target.split(separator: "/")
        guard parts.count >= 2 else { return nil }
        return try? Digest(parsing: "sha256:" + parts[parts.count - 2] + parts[parts.count - 1])
    }
}
