import Foundation
import Testing
@testable import ImgsyncCore
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Helpers for the conformance suites: link groups (`≡` / `≢`), CAS objects, times.
enum CT {
    static let T0 = TarBuilder.t0
    static let T1 = TarBuilder.t0 + 86_400
    static let T2 = TarBuilder.t0 + 2 * 86_400
    static let T3 = TarBuilder.t0 + 3 * 86_400
}

extension LayerSandbox.Result {
    /// `p ≡ q`: same non-zero link group.
    func same(_ p: String, _ q: String) -> Bool {
        guard let a = entry(p), let b = entry(q) else { return false }
        return a.linkGroup != 0 && a.linkGroup == b.linkGroup
    }

    /// `p ≢ q`: different link groups, or zero.
    func distinct(_ p: String, _ q: String) -> Bool {
        guard let a = entry(p), let b = entry(q) else { return false }
        return a.linkGroup == 0 || a.linkGroup != b.linkGroup
    }

    var objectsDir: String { published.treePath.components(separatedBy: "/.images/")[0] + "/.objects" }

    /// Names of CAS objects whose name starts with sha256(body).
    func objects(for body: [UInt8]) -> [String] {
        let hex = SHA256Hasher.hash(body).hex
        let shard = String(hex.prefix(2))
        let items = (try? FileManager.default.contentsOfDirectory(atPath: objectsDir + "/" + shard)) ?? []
        return items.filter { (shard + $0).hasPrefix(hex) }
    }

    func objects(for body: String) -> [String] { objects(for: Array(body.utf8)) }
}

func lstatPath(_ p: String) -> stat? {
    var st = stat()
    return lstat(p, &st) == 0 ? st : nil
}
