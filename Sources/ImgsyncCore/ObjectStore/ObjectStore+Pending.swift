#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One object file: the body's digest and the name in its shard directory (canonical, variant or
/// overflow).
struct ObjectName: Hashable {
    let digest: Digest
    /// What follows the digest's hex in the name: empty for the canonical object (no allocation),
    /// `.<mode>.<sec>.<nsec>[.<n>]` for the others. A store keeps one of these per body it saw.
    let suffix: PathBytes

    /// `name` is a name in the digest's shard directory: the hex after the shard, then the suffix.
    init(_ digest: Digest, _ name: PathBytes) {
        self.digest = digest
        let restLength = 62
        self.suffix = name.count > restLength ? Array(name[restLength...]) : []
        assert(name.count >= restLength, "object name shorter than its digest")
    }

    /// The canonical object of `digest` (its name is the digest's hex after the shard).
    init(canonical digest: Digest) {
        self.digest = digest
        self.suffix = []
    }

    /// The file name in the shard directory.
    var name: PathBytes { ObjectStore.split(digest).rest + suffix }
}

/// Objects named by builds of this process that no catalog lists yet, shared by every store of
/// one repository (`Repository` holds it), so that a failed build can take back the bodies it
/// stored (on a full disk they would make the next build fail too) without ever removing one
/// another build uses:
///
/// - a store claims a name before naming the object, so any other store that finds the object
///   afterwards finds the claim too, and marks it used before linking or cloning from it;
/// - a build that writes a catalog listing its objects commits them (the claims go);
/// - a failed build abandons its claims: they are removed once no store of the repository is
///   open any more (no build can be between finding an object and marking it), and only when no
///   other store used them and nothing else links to the inode (`st_nlink == 1`).
package final class PendingObjects: Sendable {
    /// A claim in 4 bytes: the owning store's id (`ObjectStore.pendingID`; 0 once abandoned, so a
    /// later store never counts as the owner) and whether another store used the object.
    struct Claim: Equatable {
        private var bits: UInt32

        init(owner: UInt32) { bits = owner & Self.ownerMask }

        static let ownerMask: UInt32 = 0x7fff_ffff
        var owner: UInt32 { bits & Self.ownerMask }
        var used: Bool { bits & ~Self.ownerMask != 0 }
        mutating func markUsed() { bits |= ~Self.ownerMask }
        mutating func abandon() { bits &= ~Self.ownerMask }
    }

    /// The claims of one kind of key, dropped or abandoned by owner without a copy of the table.
    private struct Claims<Key: Hashable> {
        var table: [Key: Claim] = [:]

        mutating func dropAll(of owner: UInt32) {
            // A new table of the claims that stay (usually none), not a copy of all of them.
            if table.values.contains(where: { $0.owner == owner }) { table = table.filter { $0.value.owner != owner } }
        }

        mutating func abandonAll(of owner: UInt32) {
            var i = table.values.startIndex
            while i != table.values.endIndex {
                if table.values[i].owner == owner { table.values[i].abandon() }
                table.values.formIndex(after: &i)
            }
        }
    }

    private struct State {
        /// Claims on canonical names (nearly all of them), keyed by the digest alone, in a compact
        /// table (`DigestClaims`: about 48 bytes a claim; a dictionary keyed by the object name and
        /// holding an object reference took 29 MB for a layer of 200,000 new bodies).
        var canonical = DigestClaims()
        /// Claims on variant and overflow names.
        var other = Claims<ObjectName>()
        var openStores = 0
        var lastID: UInt32 = 0

        subscript(object: ObjectName) -> Claim? {
            get { object.suffix.isEmpty ? canonical[object.digest] : other.table[object] }
            set {
                if object.suffix.isEmpty { canonical[object.digest] = newValue } else { other.table[object] = newValue }
            }
        }
    }

    private let state = Mutex(State())

    package init() {}

    /// Names the store claimed and were not taken back (for tests and the report).
    package var pendingCount: Int { state.withLock { $0.canonical.count + $0.other.table.count } }

    /// A store opens: its id for its claims.
    func storeStarted() -> UInt32 {
        state.withLock { s in
            s.openStores += 1
            // Ids are never 0 (the abandoned mark) and never reused while claims could hold them:
            // 2^31 - 1 stores in one process is far beyond any run.
            s.lastID = s.lastID == Claim.ownerMask ? 1 : s.lastID + 1
            return s.lastID
        }
    }

    /// Claims `object` for `store` before it is named; false when another store claimed it first
    /// (that store then owns it).
    func willCreate(_ object: ObjectName, by store: ObjectStore) -> Bool {
        state.withLock { s in
            guard s[object] == nil else { return false }
            s[object] = Claim(owner: store.pendingID)
            return true
        }
    }

    /// `store` is about to link, clone or copy from `object`.
    func noteUse(_ object: ObjectName, by store: ObjectStore) {
        state.withLock { s in
            if var c = s[object], c.owner != store.pendingID {
                c.markUsed()
                s[object] = c
            }
        }
    }

    /// Drops the claim on `object` (naming it failed).
    func forget(_ object: ObjectName, by store: ObjectStore) {
        state.withLock { s in
            if s[object]?.owner == store.pendingID { s[object] = nil }
        }
    }

    /// Drops every claim of `store` (a catalog lists its objects now). The store keeps no list of
    /// what it claimed: for a layer of half a million files such a list cost about 40 MB.
    func forgetAll(by store: ObjectStore) {
        state.withLock { s in
            s.canonical.dropAll(of: store.pendingID)
            s.other.dropAll(of: store.pendingID)
        }
    }

    /// Marks every claim of `store` abandoned, in place.
    func abandonAll(by store: ObjectStore) {
        state.withLock { s in
            s.canonical.abandonAll(of: store.pendingID)
            s.other.abandonAll(of: store.pendingID)
        }
    }

    /// The store is going. The last one open removes the abandoned objects nobody else used, from
    /// `.objects` (its directory fd), and drops their claims; the claims of the closing store that
    /// are neither committed nor abandoned just go.
    func storeEnded(_ store: ObjectStore) {
        state.withLock { s in
            s.openStores -= 1
            s.canonical.dropAll(of: store.pendingID)
            s.other.dropAll(of: store.pendingID)
            guard s.openStores == 0 else { return }
            let abandoned = Claim(owner: 0)
            s.canonical.forEach { d, c in
                if c == abandoned { PendingObjects.removeIfUnlinked(ObjectName(canonical: d), objectsFd: store.objectsFd) }
            }
            for (o, c) in s.other.table where c == abandoned {
                PendingObjects.removeIfUnlinked(o, objectsFd: store.objectsFd)
            }
            // Only abandoned claims have owner 0.
            s.canonical.dropAll(of: 0)
            s.other.dropAll(of: 0)
        }
    }

    private static func removeIfUnlinked(_ o: ObjectName, objectsFd: Int32) {
        let hex = Array(o.digest.hex.utf8)
        let shard = Array(hex[0..<2])
        let dfd = shard.withCString { openat(objectsFd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard dfd >= 0 else { return }
        defer { Syscall.close(dfd) }
        var st = stat()
        guard o.name.withCString({ fstatat(dfd, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0,
              (st.st_mode & S_IFMT) == S_IFREG, st.st_nlink == 1 else { return }
        _ = o.name.withCString { unlinkat(dfd, $0, 0) }
    }
}

extension ObjectStore {
    /// The objects this store named are listed by a catalog now (a chain catalog after a layer,
    /// the image catalog at publishing): they are ordinary objects from here on, for GC to judge.
    package func commitCreatedObjects() {
        lock.lock()
        defer { lock.unlock() }
        pending.forgetAll(by: self)
    }

    /// The build is over (its writer threads may hold the store a little longer): the store no
    /// longer counts as open, so the last build to end removes what failed builds abandoned.
    package func end() {
        lock.lock()
        defer { lock.unlock() }
        guard !ended else { return }
        ended = true
        pending.storeEnded(self)
    }

    /// The build failed: the objects this store named since the last commit are removed once no
    /// store of the repository is open, unless another build used them or something still links
    /// to them. Call it after the build's staging tree is gone (its links would keep them).
    package func abandonCreatedObjects() {
        lock.lock()
        defer { lock.unlock() }
        pending.abandonAll(by: self)
    }
}
