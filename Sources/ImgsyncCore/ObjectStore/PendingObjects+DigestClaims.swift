import ImgsyncBase

extension PendingObjects {
    /// The claims on canonical names, keyed by digest, in about 46 bytes a claim: the entries
    /// (digest and claim, 40 bytes) in chunks that never move, and an open-addressing index of
    /// 4-byte entry numbers, half to three quarters full. A `Dictionary<Digest, Claim>` keeps its 36-byte
    /// buckets at most three quarters full and doubles them, so it costs 48 to 96 bytes a claim and,
    /// while it grows, the old and the new table at once: 57 MB for a layer of 500,000 new bodies
    /// (this table: 24 MB). Probing hashes with Swift's seeded hasher, so bodies chosen to collide
    /// in the digest's bits cannot make lookups slow.
    struct DigestClaims {
        fileprivate struct Entry {
            var digest: Digest
            var claim: Claim
            var live: Bool
        }

        private static let chunkShift = 13
        private static var chunkSize: Int { 1 << chunkShift }
        /// The entries in chunks of `chunkSize`, in claiming order (dead ones stay until a rebuild).
        private var chunks: [[Entry]] = []
        private var entryCount = 0
        /// Entry number + 1 for a used slot, 0 for an empty one, `tombstone` for a removed one.
        private var index: [UInt32] = []
        private static let tombstone = UInt32.max
        /// Claims present.
        private(set) var count = 0

        private func entry(_ i: Int) -> Entry { chunks[i >> Self.chunkShift][i & (Self.chunkSize - 1)] }

        private mutating func modifyEntry(_ i: Int, _ body: (inout Entry) -> Void) {
            body(&chunks[i >> Self.chunkShift][i & (Self.chunkSize - 1)])
        }

        /// The slot holding `digest`, or nil; `free` is the first slot a new entry could take.
        private func find(_ digest: Digest) -> (found: Int?, free: Int?) {
            guard !index.isEmpty else { return (nil, nil) }
            let mask = index.count - 1
            var slot = digest.hashValue & mask
            var free: Int?
            while true {
                let v = index[slot]
                if v == 0 { return (nil, free ?? slot) }
                if v == Self.tombstone {
                    if free == nil { free = slot }
                } else if entry(Int(v) - 1).digest == digest {
                    return (slot, free)
                }
                slot = (slot + 1) & mask
            }
        }

        subscript(digest: Digest) -> Claim? {
            get { find(digest).found.map { entry(Int(index[$0]) - 1).claim } }
            set {
                let (found, free) = find(digest)
                if let found {
                    let i = Int(index[found]) - 1
                    if let newValue {
                        modifyEntry(i) { $0.claim = newValue }
                    } else {
                        modifyEntry(i) { $0.live = false }
                        index[found] = Self.tombstone
                        count -= 1
                    }
                    return
                }
                guard let newValue else { return }
                if (entryCount + 1) * 4 > index.count * 3 {
                    rebuild(keeping: { _ in true })
                    self[digest] = newValue
                    return
                }
                if entryCount & (Self.chunkSize - 1) == 0 {
                    chunks.append([])
                    chunks[chunks.count - 1].reserveCapacity(Self.chunkSize)
                }
                chunks[chunks.count - 1].append(Entry(digest: digest, claim: newValue, live: true))
                entryCount += 1
                index[free!] = UInt32(entryCount)
                count += 1
            }
        }

        /// Keeps the live entries `keep` accepts, packed in place (nothing is copied beside them),
        /// and makes a new index for them, at most half full (at least 1,024 slots); it is rebuilt
        /// when three quarters of its slots are taken (dead entries count until the rebuild).
        private mutating func rebuild(keeping keep: (Claim) -> Bool) {
            var n = 0
            for i in 0..<entryCount {
                let e = entry(i)
                guard e.live && keep(e.claim) else { continue }
                if n != i { modifyEntry(n) { $0 = e } }
                n += 1
            }
            let chunkCount = (n + Self.chunkSize - 1) >> Self.chunkShift
            chunks.removeLast(chunks.count - chunkCount)
            if n & (Self.chunkSize - 1) != 0 {
                chunks[chunkCount - 1].removeLast(chunks[chunkCount - 1].count - n & (Self.chunkSize - 1))
            }
            entryCount = n
            count = n
            var size = 1024
            while size < (n + 1) * 2 { size *= 2 }
            index = []  // the old index goes before the new one is made
            index = [UInt32](repeating: 0, count: size)
            let mask = size - 1
            for i in 0..<n {
                var slot = entry(i).digest.hashValue & mask
                while index[slot] != 0 { slot = (slot + 1) & mask }
                index[slot] = UInt32(i + 1)
            }
        }

        /// Removes the claims of `owner`.
        mutating func dropAll(of owner: UInt32) {
            guard contains(where: { $0.owner == owner }) else { return }
            if !contains(where: { $0.owner != owner }) {
                self = DigestClaims()
            } else {
                rebuild(keeping: { $0.owner != owner })
            }
        }

        /// Marks the claims of `owner` abandoned, in place.
        mutating func abandonAll(of owner: UInt32) {
            for c in chunks.indices {
                for i in chunks[c].indices where chunks[c][i].live && chunks[c][i].claim.owner == owner {
                    chunks[c][i].claim.abandon()
                }
            }
        }

        func contains(where predicate: (Claim) -> Bool) -> Bool {
            chunks.contains { $0.contains { $0.live && predicate($0.claim) } }
        }

        func forEach(_ body: (Digest, Claim) -> Void) {
            for chunk in chunks { for e in chunk where e.live { body(e.digest, e.claim) } }
        }
    }
}
