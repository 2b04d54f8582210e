import ImgsyncBase
import ImgsyncTestSupport
import Testing

/// `containsBytes` (the sweep of temporary names) against a search written the obvious way, on
/// random short byte strings over a small alphabet so that partial matches are common.
@Suite struct ContainsBytesTests {
    @Test func agreesWithANaiveSearch() {
        var rng = ImgsyncTestSupport.SplitMix64(seed: 11)
        func random(_ max: Int) -> [UInt8] {
            var out: [UInt8] = []
            for _ in 0..<rng.next(below: max + 1) { out.append(UInt8(0x61 + rng.next(below: 3))) }
            return out
        }
        func naive(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
            if needle.isEmpty { return true }
            if needle.count > hay.count { return false }
            return (0...(hay.count - needle.count)).contains { Array(hay[$0..<($0 + needle.count)]) == needle }
        }
        var found = 0
        for _ in 0..<5_000 {
            let hay = random(12), needle = random(4)
            let expected = naive(hay, needle)
            #expect(hay.containsBytes(needle) == expected, "\(hay) \(needle)")
            if expected { found += 1 }
        }
        #expect(found > 1_000 && found < 4_900, "both outcomes are exercised: \(found)")
        #expect(Array(".state.json.tmp-12-3-abc".utf8).containsBytes(Array(".tmp-".utf8)))
        #expect(!Array("state.json".utf8).containsBytes(Array(".tmp-".utf8)))
    }
}
