#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import ImgsyncSync

/// What a dead build worker leaves is removed by its pid, whatever the tree holds.
@Suite struct WorkerLeftoversTests {
    func makeDirectory(_ fd: Int32, _ name: [CChar]) -> Int32 {
        #expect(mkdirat(fd, name + [0], 0o700) == 0)
        let child = openat(fd, name + [0], O_RDONLY | O_DIRECTORY)
        #expect(child >= 0)
        return child
    }

    func makeFile(_ fd: Int32, _ name: [CChar]) {
        let f = openat(fd, name + [0], O_WRONLY | O_CREAT | O_EXCL, 0o644)
        #expect(f >= 0)
        close(f)
    }

    func chars(_ s: String) -> [CChar] { s.utf8.map { CChar(bitPattern: $0) } }

    @Test func aDeadWorkersStagingAndTemporariesAreRemovedAndNoOneElses() throws {
        let root = FileManager.default.temporaryDirectory.path + "/imgsync-leftovers-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: root) }
        for d in [".imgsync/staging", ".imgsync/catalogs/chains", ".imgsync/catalogs/images", ".imgsync/images", ".objects/tmp", "org"] {
            try FileManager.default.createDirectory(atPath: root + "/" + d, withIntermediateDirectories: true)
        }
        let staging = open(root + "/.imgsync/staging", O_RDONLY | O_DIRECTORY)
        defer { close(staging) }
        // The dead worker's (pid 4242) staging tree: names that are not UTF-8, a 0000 directory, a
        // symlink to a directory outside (not followed), and a depth no path can reach in one piece.
        let build = makeDirectory(staging, chars("build-4242-1-abc"))
        let tree = makeDirectory(build, chars("tree"))
        makeFile(tree, [0x66, -1, 0x2d, -2])
        let locked = makeDirectory(tree, chars("locked"))
        makeFile(locked, chars("inside"))
        fchmod(locked, 0)
        close(locked)
        let outside = root + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: outside + "/keep"))
        #expect(symlinkat(outside, tree, "escape") == 0)
        var fd = dup(tree)
        for _ in 0..<3000 {
            let next = makeDirectory(fd, [0x64])
            close(fd)
            fd = next
        }
        makeFile(fd, chars("deepest"))
        close(fd)
        close(tree)
        close(build)
        // Another worker's (pid 42420) staging, which must stay.
        close(makeDirectory(staging, chars("build-42420-1-abc")))
        for (dir, name) in [(".objects/tmp", "4242-7-x"), (".objects/tmp", "42420-7-x"), (".imgsync/catalogs/chains", "abc.tmp-4242-3-y"),
                            (".imgsync", "state.json.tmp-42420-3-y"), ("org", ".imgsync-link-4242-9-z"), ("org", ".imgsync-link-424-9-z")] {
            try Data().write(to: URL(fileURLWithPath: root + "/" + dir + "/" + name))
        }

        WorkerLeftovers.remove(pid: 4242, root: root, nameDirectory: root + "/org")

        let fm = FileManager.default
        #expect(try fm.contentsOfDirectory(atPath: root + "/.imgsync/staging") == ["build-42420-1-abc"])
        #expect(try fm.contentsOfDirectory(atPath: root + "/.objects/tmp") == ["42420-7-x"])
        #expect(try fm.contentsOfDirectory(atPath: root + "/.imgsync/catalogs/chains").isEmpty)
        #expect(try fm.contentsOfDirectory(atPath: root + "/.imgsync").contains("state.json.tmp-42420-3-y"))
        #expect(try fm.contentsOfDirectory(atPath: root + "/org") == [".imgsync-link-424-9-z"])
        #expect(fm.fileExists(atPath: outside + "/keep"), "the symlink was followed")
    }
}
