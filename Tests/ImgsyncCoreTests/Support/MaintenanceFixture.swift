import Foundation
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncTestSupport
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
