import Foundation
@testable import ImgsyncCore
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Names the repository side once could not remove (issue 8, item 5): names that are not UTF-8,
/// a path longer than PATH_MAX (4096 bytes) thousands of levels deep, directories without
/// permissions, and a symlink out of the tree that must never be followed.
enum HostileTree {
    /// Not UTF-8: a Latin-1 file name and an invalid two-byte sequence as a directory name.
    static let latin1: PathBytes = [0x63, 0x61, 0x66, 0xE9]          // "caf\xe9"
    static let badDirectory: PathBytes = [0xC3, 0x28]                // "\xc3("
    static let deepComponent: PathBytes = [0x64]                     // "d"

    /// The path of the deep file: `depth` directories `d`, then `f` (2 × depth + 1 bytes).
    static func deepPath(_ depth: Int) -> PathBytes {
        var p: PathBytes = []
        for _ in 0..<depth { p += deepComponent + [0x2F] }
        return p + [0x66]
    }

    /// A layer with all of them (the deep file's parents are implied).
    static func layer(depth: Int = 3000, extraBody: String = "hostile-extra") -> [UInt8] {
        var t = TarBuilder()
        t.file(latin1, "latin-1 name")
        t.dir(badDirectory + [0x2F])
        t.file(badDirectory + Array("/inside".utf8), "inside a badly named directory")
        t.file(deepPath(depth), "at the bottom")
        t.dir("locked/", mode: 0o000)
        t.file("locked/x", "in a 0000 directory")
        t.dir("readonly/", mode: 0o555)
        t.file("readonly/y", "in a 0555 directory")
        t.symlink("out", target: "/")
        t.file("extra", extraBody)
        return t.build()
    }

    /// Creates the same shapes directly below the open directory `dirfd` (for trees no layer made:
    /// staging left by a dead process), with fd-relative calls only.
    static func make(in dirfd: Int32, depth: Int = 3000) throws {
        try write(dirfd, latin1, "latin-1 name")
        try ok(badDirectory.withCString { mkdirat(dirfd, $0, 0o755) }, "mkdir")
        let bad = try open(dirfd, badDirectory)
        try write(bad, Array("inside".utf8), "inside")
        close(bad)
        var fd = dup(dirfd)
        for _ in 0..<depth {
            try ok(deepComponent.withCString { mkdirat(fd, $0, 0o755) }, "mkdir d")
            let next = try open(fd, deepComponent)
            close(fd)
            fd = next
        }
        try write(fd, [0x66], "at the bottom")
        close(fd)
        for (name, mode) in [("locked", mode_t(0o000)), ("readonly", mode_t(0o555))] {
            let n = Array(name.utf8)
            try ok(n.withCString { mkdirat(dirfd, $0, 0o755) }, "mkdir")
            let d = try open(dirfd, n)
            try write(d, Array("x".utf8), "x")
            fchmod(d, mode)
            close(d)
        }
        try ok(Array("out".utf8).withCString { symlinkat("/", dirfd, $0) }, "symlink")
    }

    private static func open(_ dirfd: Int32, _ name: PathBytes) throws -> Int32 {
        let fd = name.withCString { openat(dirfd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW) }
        try ok(fd < 0 ? -1 : 0, "open \(name.escapedForDisplay)")
        return fd
    }

    private static func write(_ dirfd: Int32, _ name: PathBytes, _ body: String) throws {
        let fd = name.withCString { openat(dirfd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644) }
        try ok(fd < 0 ? -1 : 0, "create \(name.escapedForDisplay)")
        _ = Array(body.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    private static func ok(_ r: Int32, _ what: String) throws {
        if r != 0 { throw ImgsyncError(.io, "\(what): \(String(cString: strerror(errno)))") }
    }

    /// Names in a directory given by path (none when it is missing).
    static func names(_ path: String) -> [PathBytes] {
        guard let fd = try? OwnedDescriptor.directory(atPath: path) else { return [] }
        return (try? DirectoryListing.names(of: fd.rawValue)) ?? []
    }
}
