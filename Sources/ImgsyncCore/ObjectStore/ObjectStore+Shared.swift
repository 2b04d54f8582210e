import Foundation
#if canImport(Glibc)
import Glibc
#endif
import CImgsyncSys

/// Hardlink mode: tree files are links to object inodes shared by equal (sha256, permission bits,
/// mtime). The inodes of one body form a chain of names, tried in order:
///
/// - `<rest>`: the canonical object, with the metadata of the first file that stored the body;
/// - `<rest>.<mode>.<sec>.<nsec>`: the variant inode for other metadata, or, when the canonical
///   inode has this metadata and reached the hard-link limit, its first continuation;
/// - `<rest>.<mode>.<sec>.<nsec>.<n>` (n = 1, 2, …): further inodes of the same metadata, each
///   started when the one before reached the limit.
///
/// ext4 allows 65,000 links per inode; one image with that many names of one body (or thousands of
/// trees sharing a base file) would otherwise make every later file of that body fail with
/// `EMLINK`. A full inode is never used again by this store; a new inode is a copy (or clone) of it.
extension ObjectStore.Metadata {
    /// An object inode's permission bits and mtime.
    init(_ st: stat) {
        self.init(mode: UInt32(st.st_mode) & 0o7777, sec: Int64(st.st_mtim.tv_sec), nsec: UInt32(st.st_mtim.tv_nsec))
    }
}

extension ObjectStore {
    enum SharedLookup {
        /// An inode with the wanted metadata that can take another link.
        case found(Int32, PathBytes)
        /// None: `free` is the name a new inode takes (the canonical name when the body is not
        /// stored at all). `fullSource` names an inode with the wanted metadata that reached the
        /// link limit: a copy of it continues the chain.
        case absent(free: PathBytes, fullSource: PathBytes?)
    }

    /// Name `k` of the chain of `rest` for `m`: 0 canonical, 1 variant, 2… overflow `.1`, `.2`, ….
    static func chainName(_ rest: PathBytes, _ m: Metadata, _ k: Int) -> PathBytes {
        if k == 0 { return rest }
        var name = rest + Array(".\(String(m.mode, radix: 8)).\(m.sec).\(m.nsec)".utf8)
        if k > 1 { name += Array(".\(k - 1)".utf8) }
        return name
    }

    /// With `lock` held: the first inode of the chain with metadata `want` that is not full.
    func lookupShared(_ d: Digest, _ want: Metadata) throws -> SharedLookup {
        let (dir, rest) = ObjectStore.split(d)
        let dfd = try subdir(dir)
        var fullSource: PathBytes?
        var k = 0
        while true {
            let name = ObjectStore.chainName(rest, want, k)
            k += 1
            let meta: Metadata
            if let cached = known[ObjectName(d, name)] {
                meta = cached
            } else {
                // A missing name ends the chain: names are only ever added at its end.
                guard let st = try Syscall.lstat(at: dfd, name) else { return .absent(free: name, fullSource: fullSource) }
                meta = Metadata(st)
                remember(ObjectName(d, name), meta)
            }
            // The canonical inode with other metadata, or a variant whose inode was changed
            // (verify reports and repairs it): not for this file.
            guard meta == want else { continue }
            if full.contains(name) {
                fullSource = name
                continue
            }
            return .found(dfd, name)
        }
    }

    /// Without `lock` held: links the canonical object of `d` to `dirfd/name` when its metadata
    /// is `want` (true), or finds that `d` has no object at all (false: names are only added at
    /// the end of a chain, so no canonical name means none). nil when the chain has to be walked
    /// (other metadata, a full inode), which `placeInChain` does under the lock.
    ///
    /// `trust`: a catalog says the canonical object has `want` (`CatalogEntry.canonicalObject`), so
    /// it is linked without the `lstat` first; a missing object then shows as the link's ENOENT.
    private func placeCanonical(_ d: Digest, _ want: Metadata, dirfd: Int32, name: PathBytes, trust: Bool) throws -> Bool? {
        let (dir, rest) = ObjectStore.split(d)
        let canonical = ObjectName(canonical: d)
        let (dfd, cached, isFull) = try lock.withLock { (try subdir(dir), known[canonical], full.contains(rest)) }
        if isFull { return nil }
        let meta: Metadata
        let trusted = cached == nil && trust
        if let cached {
            meta = cached
        } else if trusted {
            meta = want
        } else {
            guard let st = try Syscall.lstat(at: dfd, rest) else { return false }
            meta = Metadata(st)
            lock.lock()
            remember(canonical, meta)
            lock.unlock()
        }
        guard meta == want else { return nil }
        pending.noteUse(canonical, by: self)
        do {
            try linkObject(dfd, rest, to: dirfd, name)
            if trusted {
                lock.lock()
                remember(canonical, want)
                lock.unlock()
            }
            return true
        } catch let e as ImgsyncError where e.errno == EMLINK {
            lock.lock()
            full.insert(rest)
            lock.unlock()
            return nil
        } catch let e as ImgsyncError where trusted && e.errno == ENOENT {
            return false
        }
    }

    /// `placeExisting` in hardlink mode (`want`: the shared mode and mtime). The common cases (no
    /// object, or the canonical one with this metadata) run without the lock held across the
    /// `lstat` and the link, so the writer threads' calls overlap; the rest walks the chain under
    /// the lock. While a build's small bodies are nearly all new, a writer's lookup is skipped
    /// (`mayWrite`, `DedupOdds`): writing the file and linking it into the store costs less than a
    /// failed lookup first, and `adoptShared` still links it to a stored body it finds then.
    func placeShared(_ d: Digest, size: Int64, _ want: Metadata, dirfd: Int32, name: PathBytes, mayWrite: Bool,
                     trustCanonical: Bool = false) throws -> Placement {
        let counted = mayWrite && size <= DedupOdds.smallBody
        if counted && lock.withLock({ odds.skipLookups }) { return .absent }
        let quick = try placeCanonical(d, want, dirfd: dirfd, name: name, trust: trustCanonical)
        return try lock.withLock {
            let placed: Placement
            if let quick {
                placed = quick ? .canonical : .absent
            } else {
                placed = try placeInChain(d, size: size, want, dirfd: dirfd, name: name) ? .other : .absent
            }
            if counted { odds.note(stored: placed != .absent) }
            if placed != .absent {
                bodiesReused += 1
                bytesReused += size
            }
            return placed
        }
    }

    /// With `lock` held: links a stored inode of `d` with metadata (`mode` already the shared
    /// mode) to `dirfd/name`, continuing a full inode with a copy when needed. False when no inode
    /// of that metadata exists (the caller writes the body and `adopt`s it).
    private func placeInChain(_ d: Digest, size: Int64, _ want: Metadata, dirfd: Int32, name: PathBytes) throws -> Bool {
        while true {
            switch try lookupShared(d, want) {
            case .found(let ofd, let oname):
                pending.noteUse(ObjectName(d, oname), by: self)
                do {
                    try linkObject(ofd, oname, to: dirfd, name)
                    return true
                } catch let e as ImgsyncError where e.errno == EMLINK {
                    full.insert(oname)
                }
            case .absent(let free, let source):
                guard let source else { return false }
                try continueChain(d, size: size, want, from: source, as: free)
            }
        }
    }

    /// `adopt` in hardlink mode: the file just written at `dirfd/name` (its metadata `want`)
    /// becomes an object inode, or a link to an equal inode stored meanwhile.
    /// Returns whether the file's inode is now the body's canonical object, or a link to it.
    func adoptShared(_ d: Digest, size: Int64, _ want: Metadata, dirfd: Int32, name: PathBytes) throws -> Bool {
        if try adoptAsNewObject(d, size: size, want, dirfd: dirfd, name: name) { return true }
        return try lock.withLock { try adoptInChain(d, size: size, want, dirfd: dirfd, name: name) }
    }

    /// Without `lock` held: most new bodies have no object at all, so the file just written is
    /// linked as the canonical object at once, without a lookup (`placeExisting` just made one
    /// fail, or skipped it) and without holding the lock across the link, so the writer threads'
    /// links overlap. False when the name exists (or is known to): the caller adopts the usual way.
    private func adoptAsNewObject(_ d: Digest, size: Int64, _ want: Metadata, dirfd: Int32, name: PathBytes) throws -> Bool {
        let (dir, rest) = ObjectStore.split(d)
        let canonical = ObjectName(canonical: d)
        let (dfd, skipped, unknown) = try lock.withLock {
            (try subdir(dir), size <= DedupOdds.smallBody && odds.skipLookups, known[canonical] == nil)
        }
        guard unknown else { return false }
        let claimed = pending.willCreate(canonical, by: self)
        let linked = name.withCString { n in rest.withCString { linkat(dirfd, n, dfd, $0, 0) } } == 0
        let e = errno
        if !linked && claimed { pending.forget(canonical, by: self) }
        if !linked && e != EEXIST { throw Syscall.failure("store object", d.description, e) }
        lock.lock()
        defer { lock.unlock() }
        if skipped { odds.note(stored: !linked) }
        guard linked else { return false }
        remember(canonical, want)
        objectsAdded += 1
        bytesAdded += size
        return true
    }

    /// With `lock` held: the file just written at `dirfd/name` (its metadata `want`) becomes an
    /// object inode, or a link to an equal inode another writer stored since this file looked.
    /// Returns whether that inode is the canonical object.
    private func adoptInChain(_ d: Digest, size: Int64, _ want: Metadata, dirfd: Int32, name: PathBytes) throws -> Bool {
        let (dir, rest) = ObjectStore.split(d)
        let dfd = try subdir(dir)
        while true {
            switch try lookupShared(d, want) {
            case .found(let ofd, let oname):
                pending.noteUse(ObjectName(d, oname), by: self)
                if try replace(dirfd, name, withLinkTo: ofd, oname) {
                    bodiesReused += 1
                    bytesReused += size
                    return oname == rest
                }
                full.insert(oname)
            case .absent(let free, _):
                let object = ObjectName(d, free)
                let claimed = pending.willCreate(object, by: self)
                let r = name.withCString { n in free.withCString { linkat(dirfd, n, dfd, $0, 0) } }
                if r == 0 {
                    remember(object, want)
                    if free == rest {
                        objectsAdded += 1
                        bytesAdded += size
                    }
                    return free == rest
                }
                let e = errno
                if claimed { pending.forget(object, by: self) }
                // Named by another writer meanwhile: look again.
                if e != EEXIST { throw Syscall.failure("store object", d.description, e) }
            }
        }
    }

    /// A new inode for a full one: a clone or copy of `source` with its metadata, named `free`.
    private func continueChain(_ d: Digest, size: Int64, _ m: Metadata, from source: PathBytes, as free: PathBytes) throws {
        let (dir, _) = ObjectStore.split(d)
        let dfd = try subdir(dir)
        let src = source.withCString { openat(dfd, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        if src < 0 { throw Syscall.failure("open object", d.description) }
        defer { Syscall.close(src) }
        let (tname, out) = try createTemporary(d)
        defer {
            Syscall.close(out)
            _ = tname.withCString { unlinkat(tmpFd, $0, 0) }
        }
        if imgsync_ficlone(out, src) != 0 && imgsync_copy_file(out, src, size) != 0 {
            throw Syscall.failure("copy object", "\(d) for a new inode (the last one reached the hard-link limit)")
        }
        try Syscall.chmod(fd: out, mode_t(m.mode))
        try Syscall.setTimes(fd: out, sec: m.sec, nsec: m.nsec)
        let object = ObjectName(d, free)
        let claimed = pending.willCreate(object, by: self)
        if tname.withCString({ t in free.withCString { linkat(tmpFd, t, dfd, $0, 0) } }) == 0 {
            remember(object, m)
            return
        }
        let e = errno
        if claimed { pending.forget(object, by: self) }
        // Another writer continued the chain first: the next lookup finds its inode.
        if e != EEXIST { throw Syscall.failure("store object", d.description, e) }
    }

    /// link(2) from an object inode (or, for the applier, any tree inode), or `EMLINK` when the
    /// test seam's limit is reached.
    func linkObject(_ ofd: Int32, _ oname: PathBytes, to dirfd: Int32, _ name: PathBytes) throws {
        guard let limit = linkLimit else {
            try Syscall.link(from: ofd, oname, to: dirfd, name)
            return
        }
        // The seam counts links itself: the count and the link are one step, as the kernel's
        // EMLINK is, or two writer threads linking at once (outside the store's lock) could both
        // see room for one more link.
        try ObjectStore.linkSeamLock.withLock {
            if let st = try Syscall.lstat(at: ofd, oname), Int(st.st_nlink) >= limit {
                throw ImgsyncError(.io, "link \(name.escapedForDisplay) to \(oname.escapedForDisplay): \(Syscall.errorString(EMLINK))", errno: EMLINK)
            }
            try Syscall.link(from: ofd, oname, to: dirfd, name)
        }
    }

    /// Makes the test seam's check-and-link atomic across every store of the process.
    private static let linkSeamLock = NSLock()

    /// Makes `dirfd/name` a link to the object `ofd/oname` in one rename, so the name never
    /// disappears. False when the object's inode is full (the file stays as it was).
    private func replace(_ dirfd: Int32, _ name: PathBytes, withLinkTo ofd: Int32, _ oname: PathBytes) throws -> Bool {
        let tmp = Array(TemporaryName.next(prefix: ".imgsync-object-").utf8)
        do {
            try linkObject(ofd, oname, to: dirfd, tmp)
        } catch let e as ImgsyncError where e.errno == EMLINK {
            return false
        }
        do {
            try Syscall.rename(at: dirfd, tmp, to: dirfd, name)
        } catch {
            _ = tmp.withCString { unlinkat(dirfd, $0, 0) }
            throw error
        }
        return true
    }
}
