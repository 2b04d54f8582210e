import Foundation
import Testing
@testable import ImgsyncCore
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The one tree walker and remover of the repository side (ImgsyncBase/FileSystem).
@Suite struct TreeRemoverTests {
    final class Scratch {
        /// A tmpfs where possible: ext4 creates thousands of directories slowly right after a
        /// large tree was deleted.
        let filesystem = ScratchFilesystem.tmpfsOrNil()
        let path: String
        let fd: OwnedDescriptor
        init() throws {
            path = (filesystem?.path ?? NSTemporaryDirectory()) + "/imgsync-remover-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            fd = try OwnedDescriptor.directory(atPath: path)
        }
        deinit { _ = try? TreeRemover.removeContents(of: fd.rawValue); rmdir(path) }
    }

    @Test func walksNamesThatAreNotUTF8AndDeepPathsWithFewDescriptors() throws {
        let s = try Scratch()
        try Syscall.mkdir(at: s.fd.rawValue, Array("t".utf8), mode: 0o755)
        let t = try OwnedDescriptor.directory(at: s.fd.rawValue, Array("t".utf8))
        try HostileTree.make(in: t.rawValue, depth: 3000)
        var walker = TreeWalker(sorted: true)
        walker.maxOpenDirectories = 4
        var paths = Set<PathBytes>()
        var left = 0
        var maxDepth = 0
        try walker.walk(t.rawValue, enter: { e in
            paths.insert(e.path)
            maxDepth = max(maxDepth, e.depth)
            // Listing what is below 0000 needs no permission as root; as another user the walk
            // reports it and goes on.
            return true
        }, leave: { _ in left += 1 })
        #expect(paths.contains(HostileTree.latin1))
        #expect(paths.contains(HostileTree.badDirectory + Array("/inside".utf8)))
        #expect(paths.contains(HostileTree.deepPath(3000)))
        #expect(HostileTree.deepPath(3000).count > 4096)
        #expect(maxDepth == 3001)
        // Directories entered: bad name, 3000 × d, locked, readonly (the symlink is not followed).
        #expect(left == 3003)
        #expect(!paths.contains(Array("out/etc".utf8)))
    }

    @Test func removesEverythingAndNothingOutside() throws {
        let s = try Scratch()
        let outside = s.path + "/outside-file"
        try Data("keep".utf8).write(to: URL(fileURLWithPath: outside))
        try Syscall.mkdir(at: s.fd.rawValue, Array("t".utf8), mode: 0o755)
        let t = try OwnedDescriptor.directory(at: s.fd.rawValue, Array("t".utf8))
        try HostileTree.make(in: t.rawValue, depth: 3000)
        try Syscall.symlink(Array("../outside-file".utf8), at: t.rawValue, Array("link-out".utf8))
        // The tree's own root is read-only too.
        fchmod(t.rawValue, 0o555)
        let removed = try TreeRemover.remove(Array("t".utf8), in: s.fd.rawValue)
        #expect(HostileTree.names(s.path).map(\.escapedForDisplay) == ["outside-file"])
        #expect(FileManager.default.contents(atPath: outside) == Data("keep".utf8))
        // 3000 d + bad dir + locked + readonly + t; files: latin1, inside, f, locked/x, readonly/x; 2 symlinks.
        #expect(removed.entries == 3004 + 5 + 2)
        #expect(removed.bytesFreed == Int64("latin-1 name".utf8.count + "inside".utf8.count + "at the bottom".utf8.count + 2))
    }

    @Test func aMissingNameIsNothingToRemove() throws {
        let s = try Scratch()
        #expect(try TreeRemover.remove(Array("absent".utf8), in: s.fd.rawValue) == TreeRemover.Removed())
    }

    @Test func whatCannotBeRemovedIsNamedOnce() throws {
        let s = try Scratch()
        try Syscall.mkdir(at: s.fd.rawValue, Array("t".utf8), mode: 0o755)
        let t = try OwnedDescriptor.directory(at: s.fd.rawValue, Array("t".utf8))
        try Syscall.mkdir(at: t.rawValue, Array("mnt".utf8), mode: 0o755)
        // A mount point below the tree cannot be removed (EBUSY): reported, the rest removed.
        guard getuid() == 0, mount("imgsync-test", s.path + "/t/mnt", "tmpfs", 0, nil) == 0 else { return }
        defer { umount(s.path + "/t/mnt") }
        try Data("x".utf8).write(to: URL(fileURLWithPath: s.path + "/t/plain"))
        var caught: ImgsyncError?
        do { try TreeRemover.remove(Array("t".utf8), in: s.fd.rawValue) } catch let e as ImgsyncError { caught = e }
        let e = try #require(caught)
        #expect(e.message.contains("t/mnt"), "\(e)")
        #expect(e.errno == EBUSY, "\(e)")
        #expect(!FileManager.default.fileExists(atPath: s.path + "/t/plain"))
    }
}
