import Foundation
import Testing
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A temporary directory holding a repository root and, beside it, the SENTINEL `victim/` dir
/// (docs/conformance.md I1). Layers are built in memory and applied through the real pipeline.
final class LayerSandbox {
    let base: String
    let root: String
    let repository: Repository
    private let sentinelBefore: [String: String]

    /// The filesystem the sandbox lives on, when the test mounted one for it.
    private let filesystem: ScratchFilesystem?

    /// `filesystem`: put the sandbox there (a tmpfs for tests that create thousands of
    /// directories, which ext4 makes slow right after a large tree was deleted) instead of in
    /// the temporary directory.
    init(on filesystem: ScratchFilesystem? = nil) throws {
        self.filesystem = filesystem
        base = (filesystem?.path ?? NSTemporaryDirectory()) + "/imgsync-test-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        root = base + "/root"
        try FileManager.default.createDirectory(atPath: base + "/victim", withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: URL(fileURLWithPath: base + "/victim/hello"))
        repository = try Repository(root: root)
        sentinelBefore = LayerSandbox.listing(base, excluding: root)
    }

    deinit { Repository.removeTree(base) }

    /// Everything outside the repository root: path → type, mode, mtime, size, content hash.
    static func listing(_ dir: String, excluding: String) -> [String: String] {
        var out: [String: String] = [:]
        func walk(_ p: String) {
            if p == excluding { return }
            var st = stat()
            guard lstat(p, &st) == 0 else { return }
            var desc = "\(st.st_mode) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(st.st_size)"
            if (st.st_mode & S_IFMT) == S_IFREG, let d = FileManager.default.contents(atPath: p) {
                desc += " " + SHA256Hasher.hash(Array(d)).hex
            }
            out[p] = desc
            if (st.st_mode & S_IFMT) == S_IFDIR, let items = try? FileManager.default.contentsOfDirectory(atPath: p) {
                for i in items { walk(p + "/" + i) }
            }
        }
        walk(dir)
        // The repository root's own listing changes (it is created by the test).
        out[dir] = nil
        return out
    }

    /// I1: nothing outside the root changed.
    func checkSentinel(sourceLocation: SourceLocation = #_sourceLocation) {
        let now = LayerSandbox.listing(base, excluding: root)
        #expect(now == sentinelBefore, "files outside the repository root changed", sourceLocation: sourceLocation)
    }

    struct Result {
        let tree: String
        let catalog: [CatalogEntry]
        let warnings: [String]
        let published: PublishedImage
        func entry(_ path: String) -> CatalogEntry? { catalog.first { $0.path == Array(path.utf8) } }
    }

    /// Applies the layers (plain tar bytes unless `compression` says otherwise) and publishes them.
    @discardableResult
    /// `objectLinkLimit`: the object store's test seam for the hard-link limit.
    func apply(_ layers: [[UInt8]], compression: LayerCompression = .none, link: LinkMode = .hardlink,
               name: String = "test/image:1", limits: LayerLimits = LayerLimits(), objectLinkLimit: Int? = nil,
               openDirectoryLimit: Int? = nil) throws -> Result {
        let builder = try ImageBuilder(repository: repository, linkMode: link, limits: limits, objectLinkLimit: objectLinkLimit,
                                       openDirectoryLimit: openDirectoryLimit)
        for (i, layer) in layers.enumerated() {
            try builder.apply(LayerInput(source: BytesSource(layer, maxRead: 4096), name: "L\(i + 1)",
                                         expect: LayerExpectations(compression: compression)))
        }
        let published = try builder.publish(as: try PublishedName(name))
        let catalog = try repository.readCatalog(image: published.imageID)
        return Result(tree: root + "/" + name, catalog: catalog, warnings: builder.warnings, published: published)
    }

    /// Applies and expects an error of `code`; checks that nothing was published (I4).
    func expectFailure(_ code: ImgsyncError.Code, _ layers: [[UInt8]], compression: LayerCompression = .none,
                       limits: LayerLimits = LayerLimits(), name: String = "test/image:1",
                       sourceLocation: SourceLocation = #_sourceLocation) {
        let before = repository.imageID(of: try! PublishedName(name))
        do {
            try apply(layers, compression: compression, name: name, limits: limits)
            Issue.record("expected ERROR(\(code)) but the layers applied", sourceLocation: sourceLocation)
        } catch let e as ImgsyncError {
            #expect(e.code == code, "got \(e)", sourceLocation: sourceLocation)
            #expect(e.layer != nil, "the error names no layer: \(e)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
        #expect(repository.imageID(of: try! PublishedName(name)) == before, "the name changed after a failed apply", sourceLocation: sourceLocation)
        let staging = (try? FileManager.default.contentsOfDirectory(atPath: root + "/.imgsync/staging")) ?? []
        #expect(staging.isEmpty, "staging left behind: \(staging)", sourceLocation: sourceLocation)
        checkSentinel(sourceLocation: sourceLocation)
    }
}
