import Foundation
import ImgsyncCore
import Testing
@testable import ImgsyncSync

/// `ChainClaims`: a build waits while another one makes the chain it needs, then starts from that
/// chain's catalog, or claims it itself when the other build failed.
@Suite struct ChainClaimsTests {
    /// Chain catalogs "on disk" for the tests.
    final class Known: @unchecked Sendable {
        // @unchecked: `set` is only touched under `lock`.
        private let lock = NSLock()
        private var set: Set<Digest> = []
        func add(_ d: Digest) { lock.withLock { _ = set.insert(d) } }
        func contains(_ d: Digest) -> Bool { lock.withLock { set.contains(d) } }
    }

    /// A flag the releasing side sets just before it releases.
    final class Flag: @unchecked Sendable {
        // @unchecked: `value` is only touched under `lock`.
        private let lock = NSLock()
        private var value = false
        func set() { lock.withLock { value = true } }
        var isSet: Bool { lock.withLock { value } }
    }

    let base = Digest(sha256: Array(repeating: 1, count: 32))
    let a = Digest(sha256: Array(repeating: 2, count: 32))
    let b = Digest(sha256: Array(repeating: 3, count: 32))

    @Test func aSecondBuildWaitsAndStartsFromTheSharedChain() async throws {
        let claims = ChainClaims()
        let known = Known()
        let first = await claims.claim([base, a]) { known.contains($0) }
        #expect(claims.isHeld(base) && claims.isHeld(a))
        let released = Flag()
        let second = Task { () -> Bool in
            let claim = await claims.claim([self.base, self.b]) { known.contains($0) }
            // Returned only after the first build made the base chain; claims only its own layer.
            let waited = released.isSet
            let ownOnly = !claims.isHeld(self.base) && claims.isHeld(self.b)
            claim.releaseAll()
            return waited && ownOnly
        }
        await Task.yield()
        known.add(base)
        released.set()
        first.release(base)
        #expect(await second.value)
        #expect(claims.isHeld(a) && !claims.isHeld(b))
        first.releaseAll()
        #expect(!claims.isHeld(a))
    }

    @Test func aWaiterClaimsTheChainItselfWhenTheFirstBuildFailed() async throws {
        let claims = ChainClaims()
        let known = Known()
        let first = await claims.claim([base, a]) { known.contains($0) }
        let released = Flag()
        let second = Task { () -> Bool in
            let claim = await claims.claim([self.base, self.b]) { known.contains($0) }
            let result = released.isSet && claims.isHeld(self.base) && claims.isHeld(self.b)
            claim.releaseAll()
            return result
        }
        await Task.yield()
        // The first build fails before its base layer is applied: no catalog, claims dropped.
        released.set()
        first.releaseAll()
        #expect(await second.value, "the waiter downloads the base layer itself")
        #expect(!claims.isHeld(base) && !claims.isHeld(b))
    }

    @Test func knownChainsAreNotClaimedAndADroppedClaimIsReleased() async {
        let claims = ChainClaims()
        let known = Known()
        known.add(base)
        do {
            let claim = await claims.claim([base, a]) { known.contains($0) }
            #expect(!claims.isHeld(base) && claims.isHeld(a))
            _ = claim
        }
        #expect(!claims.isHeld(a), "a claim released when its build ends on any path")
        known.add(a)
        _ = await claims.claim([base, a]) { known.contains($0) }
        #expect(!claims.isHeld(a))
    }
}
