import Foundation
import Testing
@testable import ImgsyncCore
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Expected-tree notation of docs/conformance.md §0, as Swift values. The tree is complete: paths not listed
/// must not exist, in the catalog or on disk.
enum Expect {
    case dir(String, mode: UInt32? = nil, mtime: Int64? = nil)
    case implied(String)
    case file(String, String, mode: UInt32? = nil)
    case fileBytes([UInt8], [UInt8])
    case link(String, String)
    case special(String, CatalogEntryType)

    var path: [UInt8] {
        switch self {
        case .dir(let p, _, _), .implied(let p), .file(let p, _, _), .link(let p, _), .special(let p, _): Array(p.utf8)
        case .fileBytes(let p, _): p
        }
    }
}

extension LayerSandbox.Result {
    /// Checks the catalog and the on-disk tree against `expected`, plus I2 and I3.
    func expectTree(_ expected: [Expect], sourceLocation: SourceLocation = #_sourceLocation) {
        let byPath = Dictionary(catalog.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let want = Set(expected.map(\.path))
        let have = Set(catalog.map(\.path).filter { !$0.isEmpty })
        for p in have.subtracting(want) { Issue.record("unexpected path \(p.escapedForDisplay)", sourceLocation: sourceLocation) }
        for p in want.subtracting(have) { Issue.record("missing path \(p.escapedForDisplay)", sourceLocation: sourceLocation) }
        for e in expected {
            guard let c = byPath[e.path] else { continue }
            let disk = tree + "/" + String(decoding: e.path, as: UTF8.self)
            switch e {
            case .dir(_, let mode, let mtime):
                #expect(c.type == .directory, "\(disk) is \(c.type)", sourceLocation: sourceLocation)
                if let mode { #expect(c.mode == mode, "\(disk) mode \(String(c.mode, radix: 8))", sourceLocation: sourceLocation) }
                if let mtime { #expect(c.mtime == mtime, "\(disk) mtime \(c.mtime)", sourceLocation: sourceLocation) }
            case .implied:
                #expect(c.type == .directory, "\(disk) is \(c.type)", sourceLocation: sourceLocation)
            case .file(_, let body, let mode):
                #expect(c.type == .regular, "\(disk) is \(c.type)", sourceLocation: sourceLocation)
                #expect(readDisk(e.path) == Array(body.utf8), "\(disk) content", sourceLocation: sourceLocation)
                #expect(c.sha256 == SHA256Hasher.hash(Array(body.utf8)), "\(disk) sha256", sourceLocation: sourceLocation)
                if let mode { #expect(c.mode == mode, "\(disk) mode \(String(c.mode, radix: 8))", sourceLocation: sourceLocation) }
            case .fileBytes(let p, let body):
                #expect(c.type == .regular, sourceLocation: sourceLocation)
                #expect(readDisk(p) == body, "\(p.escapedForDisplay) content", sourceLocation: sourceLocation)
            case .link(_, let target):
                #expect(c.type == .symlink, "\(disk) is \(c.type)", sourceLocation: sourceLocation)
                #expect(c.linkTarget == Array(target.utf8), "\(disk) catalog target", sourceLocation: sourceLocation)
                #expect(readLinkDisk(e.path) == Array(target.utf8), "\(disk) on-disk target", sourceLocation: sourceLocation)
            case .special(_, let type):
                #expect(c.type == type, sourceLocation: sourceLocation)
            }
        }
        checkDiskMatchesCatalog(sourceLocation: sourceLocation)
    }

    func readDisk(_ path: [UInt8]) -> [UInt8]? {
        let full = Array(tree.utf8) + [0x2F] + path
        let fd = full.withCString { open($0, O_RDONLY | O_NOFOLLOW) }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    func readLinkDisk(_ path: [UInt8]) -> [UInt8]? {
        let full = Array(tree.utf8) + [0x2F] + path
        var buf = [UInt8](repeating: 0, count: 8192)
        let n = full.withCString { p in buf.withUnsafeMutableBytes { readlink(p, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) } }
        return n < 0 ? nil : Array(buf[0..<n])
    }

    func lstatDisk(_ path: [UInt8]) -> stat? {
        let full = Array(tree.utf8) + [0x2F] + path
        var st = stat()
        return full.withCString { lstat($0, &st) } == 0 ? st : nil
    }

    /// Every catalog path is on disk with the right type and normalised mode; devices and FIFOs are
    /// not; no path on disk is missing from the catalog; no name starts with `.wh.` (I2); every object
    /// re-hashes to its name (I3).
    func checkDiskMatchesCatalog(sourceLocation: SourceLocation = #_sourceLocation) {
        for difference in TreeAudit.differences(tree: tree, catalog: catalog) {
            Issue.record("\(difference)", sourceLocation: sourceLocation)
        }
        let objects = published.treePath.components(separatedBy: "/.images/")[0] + "/.objects"
        if let shards = try? FileManager.default.contentsOfDirectory(atPath: objects) {
            for shard in shards where shard.count == 2 {
                for obj in (try? FileManager.default.contentsOfDirectory(atPath: objects + "/" + shard)) ?? [] {
                    let data = FileManager.default.contents(atPath: objects + "/" + shard + "/" + obj) ?? Data()
                    let hex = SHA256Hasher.hash(Array(data)).hex
                    #expect(hex == shard + String(obj.prefix(62)), "I3: object \(shard)/\(obj) does not hash to its name", sourceLocation: sourceLocation)
                }
            }
        }
    }
}
