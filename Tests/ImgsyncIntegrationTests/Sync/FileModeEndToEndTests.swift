import Foundation
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The `imgsync` executable records its umask at start and creates small files with their final
/// permission bits when the umask leaves them whole (no chmod after writing); under a umask that
/// would remove some, it creates them 0600 and chmods them. Either way the tree carries exactly the
/// modes of the layer (shared inodes without write bits; own inodes less setuid/setgid), which this
/// checks under three umasks, in both link modes, in processes of their own (the test runner's
/// umask is changed by a conformance test).
@Suite(.timeLimit(.minutes(5))) struct FileModeEndToEndTests {
    static let modes: [Int64] = [0o644, 0o755, 0o600, 0o400, 0o000, 0o777, 0o666, 0o640, 0o4755, 0o2711, 0o1755, 0o444]

    @Test(arguments: ["022", "077", "000"], [LinkMode.hardlink, .copy])
    func treeModesDoNotDependOnTheUmask(umask: String, link: LinkMode) async throws {
        let dir = FileManager.default.temporaryDirectory.path + "/imgsync-modes-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { Repository.removeTree(dir) }
        var t = TarBuilder()
        t.dir("d/", mode: 0o750)
        for (i, mode) in Self.modes.enumerated() { t.file("d/m\(i)", "mode body \(i)\n", mode: mode) }
        let layer = dir + "/layer.tar"
        try Data(t.build()).write(to: URL(fileURLWithPath: layer))
        let root = dir + "/root"
        _ = try await ChildProcess.run(["sh", "-c", "umask \(umask) && exec \"$@\"", "sh", imgsyncExecutable, "apply", "--root", root,
                                        "--name", "org/m:1", "--link", link.rawValue, layer])
        let repository = try Repository(root: root, create: false)
        let id = try #require(repository.imageID(of: try PublishedName("org/m:1")))
        let catalog = try repository.readCatalog(image: id)
        let tree = root + "/org/m:1"
        for (i, mode) in Self.modes.enumerated() {
            var st = stat()
            #expect(lstat(tree + "/d/m\(i)", &st) == 0)
            let expected = link == .hardlink ? ObjectStore.sharedMode(UInt32(mode)) : ObjectStore.ownMode(UInt32(mode))
            #expect(st.st_mode & 0o7777 == expected, "umask \(umask), \(link): m\(i) is \(String(st.st_mode & 0o7777, radix: 8)) for \(String(mode, radix: 8))")
        }
        #expect(TreeAudit.differences(tree: tree, catalog: catalog, shared: link == .hardlink).isEmpty)
    }
}
