import ImgsyncBase
import ImgsyncTestSupport
import Testing
@testable import ImgsyncCore

/// `PendingObjects.DigestClaims`, the compact claims table, against a `Dictionary` doing the same
/// random operations: claims, updates, removals, dropping and abandoning by owner, across chunk
/// boundaries and index rebuilds.
@Suite struct DigestClaimsTests {
    typealias Claim = PendingObjects.Claim

    static func digest(_ n: UInt64) -> Digest {
        var rng = SplitMix64(seed: n)
        return Digest(sha256: (0..<4).flatMap { _ in withUnsafeBytes(of: rng.next()) { Array($0) } })
    }

    func check(_ table: PendingObjects.DigestClaims, _ reference: [Digest: Claim], _ probes: [Digest]) {
        #expect(table.count == reference.count)
        var seen: [Digest: Claim] = [:]
        table.forEach { d, c in
            #expect(seen[d] == nil, "\(d) listed twice")
            seen[d] = c
        }
        #expect(seen == reference)
        for d in probes { #expect(table[d] == reference[d]) }
    }

    @Test func matchesADictionary() {
        var table = PendingObjects.DigestClaims()
        var reference: [Digest: Claim] = [:]
        var rng = SplitMix64(seed: 42)
        let universe = 40_000
        for step in 0..<120_000 {
            let d = Self.digest(rng.next() % UInt64(universe))
            switch rng.next() % 10 {
            case 0...5:
                let c = Claim(owner: UInt32(1 + rng.next() % 3))
                table[d] = c
                reference[d] = c
            case 6, 7:
                var c = reference[d] ?? Claim(owner: 1)
                c.markUsed()
                table[d] = c
                reference[d] = c
            case 8:
                table[d] = nil
                reference[d] = nil
            default:
                #expect(table[d] == reference[d])
            }
            if step % 40_000 == 39_999 {
                let owner = UInt32(1 + rng.next() % 3)
                table.abandonAll(of: owner)
                for (k, v) in reference where v.owner == owner {
                    var a = v
                    a.abandon()
                    reference[k] = a
                }
                check(table, reference, (0..<200).map { Self.digest(UInt64($0)) })
                table.dropAll(of: owner == 1 ? 2 : 1)
                reference = reference.filter { $0.value.owner != (owner == 1 ? 2 : 1) }
                check(table, reference, (0..<200).map { Self.digest(UInt64($0)) })
            }
        }
        #expect(reference.count > 8_192, "the test must cross a chunk: \(reference.count) claims")
        check(table, reference, (0..<universe).map { Self.digest(UInt64($0)) })
        for owner: UInt32 in [0, 1, 2, 3] { table.dropAll(of: owner) }
        #expect(table.count == 0)
        check(table, [:], (0..<100).map { Self.digest(UInt64($0)) })
    }
}
