import Foundation
import ImgsyncCore

/// Which layer chains the builds of this run are making, so that a layer needed by two images
/// built at the same time is downloaded once (issue 9).
///
/// A build that is about to download layers claims the chains it will make (by ChainID, so a
/// claim means "these very layers on these very layers"). A second build whose first missing chain
/// is claimed waits until the claim is released, then looks again for the longest known chain:
/// when the first build applied the layer, the chain catalog is there and the second build starts
/// from it without downloading the layer. When the first build failed (a download error, a bad
/// layer, a dead worker), no catalog was written and the waiter claims the chain and downloads the
/// layer itself: a waiter never inherits another build's error, it tries once on its own.
///
/// In-process builds release each chain as soon as its layer is applied; a build worker writes the
/// chain catalogs in its own process, so its claims are released when the worker has ended.
final class ChainClaims: @unchecked Sendable {
    // @unchecked: `held` and `waiters` are only touched under `lock`.
    private let lock = NSLock()
    private var held: Set<Digest> = []
    private var waiters: [Digest: [CheckedContinuation<Void, Never>]] = [:]

    /// Waits until the first chain of `chains` that is not known yet is made by no other build,
    /// then claims it and every later one that is free. `known(chain)` says whether a chain's
    /// catalog exists; it is asked under the lock, so a claim released after its catalog was
    /// written is never missed.
    func claim(_ chains: [Digest], known: (Digest) -> Bool) async -> Claim {
        while true {
            let next: Digest? = lock.withLock {
                let start = stride(from: chains.count, through: 1, by: -1).first { known(chains[$0 - 1]) } ?? 0
                guard start < chains.count else { return nil }
                if held.contains(chains[start]) { return chains[start] }
                return nil
            }
            guard let busy = next else { break }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                lock.lock()
                if held.contains(busy) {
                    waiters[busy, default: []].append(c)
                    lock.unlock()
                } else {
                    lock.unlock()
                    c.resume()
                }
            }
        }
        return lock.withLock {
            let start = stride(from: chains.count, through: 1, by: -1).first { known(chains[$0 - 1]) } ?? 0
            if start < chains.count && held.contains(chains[start]) {
                // Claimed by another build between the two looks: claim nothing, the caller
                // downloads (rare; correct, only not shared).
                return Claim(self, [])
            }
            let mine = chains[start...].filter { !held.contains($0) }
            held.formUnion(mine)
            return Claim(self, Array(mine))
        }
    }

    fileprivate func release(_ chains: [Digest]) {
        var wake: [CheckedContinuation<Void, Never>] = []
        lock.withLock {
            for chain in chains where held.remove(chain) != nil {
                wake += waiters.removeValue(forKey: chain) ?? []
            }
        }
        for w in wake { w.resume() }
    }

    /// Whether a build holds `chain` (for tests).
    func isHeld(_ chain: Digest) -> Bool { lock.withLock { held.contains(chain) } }

    /// The chains one build claimed; released one by one as their layers are applied, and all
    /// that remain when the build ends (`releaseAll`, also on every error path).
    final class Claim: @unchecked Sendable {
        // @unchecked: `remaining` is only touched under the owner's lock.
        private let owner: ChainClaims
        private var remaining: [Digest]

        fileprivate init(_ owner: ChainClaims, _ chains: [Digest]) {
            self.owner = owner
            remaining = chains
        }

        /// The chain is made (its catalog is written) or will not be: waiters may look again.
        func release(_ chain: Digest) {
            let had = owner.lock.withLock { () -> Bool in
                guard let i = remaining.firstIndex(of: chain) else { return false }
                remaining.remove(at: i)
                return true
            }
            if had { owner.release([chain]) }
        }

        func releaseAll() {
            let all = owner.lock.withLock { () -> [Digest] in
                defer { remaining = [] }
                return remaining
            }
            owner.release(all)
        }

        deinit { releaseAll() }
    }
}
