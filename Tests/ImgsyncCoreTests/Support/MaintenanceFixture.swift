import Foundation
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncTestSupport
import CImgsyncSys
#if canImport(Glibc)
import Glibc
#endif

/// Helpers for the GC, verify and stats tests: object paths computed from the bodies the tests
/// wrote (never from the code under test), and small disk probes.
enum Probe {
    static func digest(_ body: String) -> Digest { SHA256Hasher.hash(Array(body.utf8)) }

    /// Where the store keeps `body` (canonical name), computed from the body itself.
    static func objectPath(_ root: String, _ body: String) -> String {
        let hex = digest(body).hex
        return root + "/.objects/" + hex.prefix(2) + "/" + hex.dropFirst(2)
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Flips one byte of a file in place (root ignores the read-only mode).
    static func corrupt(_ path: String, at offset: Int64 = 0) throws {
        let fd = open(path, O_RDWR)
        guard fd >= 0 else { throw ImgsyncError(.io, "open \(path): \(errno)") }
        defer { close(fd) }
        var b: UInt8 = 0
        guard pread(fd, &b, 1, off_t(offset)) == 1 else { throw ImgsyncError(.io, "read \(path)") }
        b ^= 0xFF
        guard pwrite(fd, &b, 1, off_t(offset)) == 1 else { throw ImgsyncError(.io, "write \(path)") }
    }

    static func contents(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The value of the xattr `name` of `path` itself (not followed), nil when it has none.
    static func xattrBytes(_ path: String, _ name: String) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = path.withCString { p in buf.withUnsafeMutableBytes { lgetxattr(p, name, $0.baseAddress, $0.count) } }
        return n < 0 ? nil : Array(buf[0..<n])
    }

    static func xattr(_ path: String, _ name: String) -> String? {
        xattrBytes(path, name).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A symlink's target, nil when `path` is not one.
    static func readlink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 8192)
        let n = Glibc.readlink(path, &buf, buf.count)
        return n < 0 ? nil : String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Every path under `dir` with type, mode, mtime, size and content hash: to show nothing changed.
    static func listing(_ dir: String) -> [String: String] {
        LayerSandbox.listing(dir, excluding: "/nonexistent")
    }
}

extension LayerSandbox {
    /// One GC run over the sandbox's repository, with the clock at `now`.
    func collectGarbage(grace: TimeInterval, at now: Date, full: Bool = false, dryRun: Bool = false, max: Int = 100_000) throws -> GCReport {
        var gc = GarbageCollector(repository: repository)
        gc.grace = grace
        gc.now = { now }
        gc.full = full
        gc.dryRun = dryRun
        gc.maxDeletions = max
        return try gc.run()
    }
}
