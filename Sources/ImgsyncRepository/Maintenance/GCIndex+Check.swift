import Foundation

/// What `verify` found about the GC index (`GCIndex`).
public enum GCIndexState: Sendable, Equatable, CustomStringConvertible {
    /// No index: the next GC runs the full mark-and-sweep and writes one.
    case absent
    /// A catalog it counted was deleted or rewritten outside GC: the next GC runs the full pass.
    case stale(String)
    /// It agrees with the catalogs it names; `released` bodies wait for deletion.
    case consistent(catalogs: Int, bodies: Int, released: Int)
    /// Its counts disagree with its catalogs: a body could be deleted while listed. A problem.
    case inconsistent(String)

    public var description: String {
        switch self {
        case .absent: "absent (the next gc runs the full mark-and-sweep)"
        case .stale(let why): "stale: \(why) (the next gc runs the full mark-and-sweep)"
        case .consistent(let c, let b, let r): "consistent: \(c) catalogs, \(b) bodies counted, \(r) released"
        case .inconsistent(let why): "inconsistent: \(why)"
        }
    }
}

extension Repository {
    /// Recounts the catalogs the GC index names and compares: every count must equal the number of
    /// those catalogs that list the body (0 for a released body). Reads every counted catalog.
    public func checkGCIndex() -> GCIndexState {
        let index: GCIndex
        do {
            guard let i = try readGCIndex(catalogsOnly: false) else { return .absent }
            index = i
        } catch {
            return .inconsistent("\(error)")
        }
        var recount: [Digest: UInt32] = [:]
        let disk = catalogStamps()
        for (key, stamp) in index.catalogs.sorted(by: { $0.key < $1.key }) {
            guard disk[key] == stamp else { return .stale("\(catalogPath(key)) \(disk[key] == nil ? "was deleted" : "was rewritten") outside GC") }
            do {
                guard let (read, bodies) = try catalogBodies(key), read == stamp else { return .stale("\(catalogPath(key)) changed") }
                for d in bodies { recount[d, default: 0] += 1 }
            } catch {
                return .stale("\(error)")
            }
        }
        for (d, count) in recount where index.counts[d] != count {
            return .inconsistent("body \(d) is listed by \(count) counted catalogs, the index says \(index.counts[d].map(String.init) ?? "nothing")")
        }
        for (d, count) in index.counts where recount[d] == nil && count != 0 {
            return .inconsistent("body \(d) is counted \(count) times but listed by no counted catalog")
        }
        return .consistent(catalogs: index.catalogs.count, bodies: index.counts.count, released: index.released)
    }
}
