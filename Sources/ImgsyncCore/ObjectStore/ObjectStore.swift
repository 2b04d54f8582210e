import Foundation
#if canImport(Glibc)
import Glibc
#endif
import CImgsyncSys

/// The SHA-256 content-addressed store under `<root>/.objects/<ab>/<rest>`.
///
/// An object is named only once its bytes are complete (its inode was fully written and closed
/// before the name was linked or renamed into place), and nothing ever opens an object for writing,
/// so an object's bytes never change after it is named (D12). In hardlink mode an object *is* the
/// first tree file's inode: a body whose files differ in permission bits or mtime gets a variant
/// inode named `<rest>.<mode>.<sec>.<nsec>` beside it, and an inode that reached the filesystem's
/// hard-link limit (`EMLINK`) is continued by overflow inodes `<rest>.<mode>.<sec>.<nsec>.<n>`
/// (ObjectStore+Shared.swift).
///
/// A build that fails removes the objects it named itself that nothing else uses
/// (`removeUncommittedObjects`, ObjectStore+Pending.swift).
public final class ObjectStore {
    /// Permission bits an object or shared inode may carry on disk: no write, setuid, setgid or sticky.
    package static func sharedMode(_ mode: UInt32, worldReadable: Bool = false) -> mode_t {
        mode_t((worldReadable ? widened(mode) : mode) & 0o555)
    }
    /// Permission bits a tree file with its own inode carries: exact, less setuid and setgid.
    package static func ownMode(_ mode: UInt32, worldReadable: Bool = false) -> mode_t {
        mode_t((worldReadable ? widened(mode) : mode) & 0o1777)
    }
    /// Permission bits of a tree file on disk: shared with an object (hardlink mode) or its own inode.
    package static func fileMode(_ mode: UInt32, shared: Bool, worldReadable: Bool) -> mode_t {
        shared ? sharedMode(mode, worldReadable: worldReadable) : ownMode(mode, worldReadable: worldReadable)
    }
    /// Permission bits this store's tree files get on disk.
    package func fileMode(_ mode: UInt32) -> mode_t { ObjectStore.fileMode(mode, shared: self.mode == .hardlink, worldReadable: worldReadable) }
    /// Permission bits of a tree directory on disk: exact, or a+rx with `--world-readable`.
    package static func directoryMode(_ mode: UInt32, worldReadable: Bool = false) -> mode_t {
        mode_t((worldReadable ? mode | 0o555 : mode) & 0o7777)
    }
    /// `chmod a+rX` of a file: readable by all; executable by all when anyone may execute it.
    package static func widened(_ mode: UInt32) -> UInt32 { mode | 0o444 | (mode & 0o111 != 0 ? 0o111 : 0) }

    public let mode: LinkMode
    /// Tree files and directories are a+rX on disk (`--world-readable`, docs/design.md §2); the catalogs
    /// keep the layers' modes.
    public let worldReadable: Bool
    /// Permission bits and mtime of an object inode (all zero outside hardlink mode).
    struct Metadata: Equatable {
        var mode: UInt32
        var sec: Int64
        var nsec: UInt32
    }

    let objectsFd: Int32
    private var subdirFds = [Int32](repeating: -1, count: 256)
    private(set) var tmpFd: Int32 = -1
    /// Object names known to exist, with their inode's metadata: a cache in front of `lstat`, one
    /// flat table keyed by digest and name suffix. Bounded (`knownLimit`), so that a layer of a
    /// million small files does not keep a million entries; a name not found here is looked up on
    /// disk, so forgetting one costs a system call, never a wrong answer.
    /// 12,288 names fit a table of 16,384 buckets (about 1 MB); 65,536 took a table of 8 MB in
    /// every build.
    private(set) var known: [ObjectName: Metadata] = [:]
    static let knownLimit = 12_288

    /// With `lock` held: notes that `object` exists with metadata `m`.
    func remember(_ object: ObjectName, _ m: Metadata) {
        if known.count >= ObjectStore.knownLimit && known[object] == nil { known.removeAll(keepingCapacity: true) }
        known[object] = m
    }
    /// How often this build finds a small body already stored (hardlink mode), to decide whether
    /// looking before writing pays.
    var odds = DedupOdds()

    /// Names whose inode reached the hard-link limit (hardlink mode).
    var full: Set<PathBytes> = []
    /// Test seam: a link count at which `link()` to an object inode counts as `EMLINK`, so the
    /// overflow path can be tested without 65,000 links (ext4's limit). nil: the filesystem's own.
    let linkLimit: Int?
    /// Objects this store named that no catalog lists yet, and the process's other stores.
    let pending: PendingObjects
    /// This store's id in `pending` (its claims carry it).
    let pendingID: UInt32
    /// `end()` was called: the store is no longer open for `pending`.
    var ended = false
    /// The applier's thread and its writer threads share the store: every cache and counter here
    /// is read and changed under this lock. Reflink and copy mode and `storeEmpty` hold it
    /// throughout; hardlink mode makes its common system calls without it (ObjectStore+Shared.swift).
    let lock = NSLock()

    /// Objects newly named by this store instance.
    public internal(set) var objectsAdded = 0
    /// Bytes of bodies newly stored.
    public internal(set) var bytesAdded: Int64 = 0
    /// Bodies that were already stored and were linked instead of written.
    public internal(set) var bodiesReused = 0
    public internal(set) var bytesReused: Int64 = 0

    /// Opens (creating if needed) `.objects` inside the repository whose root directory is `rootFd`.
    /// `pending` is shared by every store of the repository in this process (the repository's), so
    /// that a failed build never removes an object another build is using.
    public convenience init(repositoryFd rootFd: Int32, mode: LinkMode, worldReadable: Bool = false) throws {
        try self.init(repositoryFd: rootFd, mode: mode, worldReadable: worldReadable, pending: PendingObjects())
    }

    package init(repositoryFd rootFd: Int32, mode: LinkMode, worldReadable: Bool = false, pending: PendingObjects,
                 linkLimit: Int? = nil) throws {
        precondition(mode != .auto, "resolve .auto before opening the store")
        self.mode = mode
        self.worldReadable = worldReadable
        self.pending = pending
        precondition((linkLimit ?? 2) >= 2, "a link limit below 2 leaves no room for a tree file")
        self.linkLimit = linkLimit
        let name = Array(".objects".utf8)
        if try Syscall.lstat(at: rootFd, name) == nil {
            do { try Syscall.mkdir(at: rootFd, name, mode: 0o755) } catch let e as ImgsyncError where e.errno == EEXIST {}
        }
        objectsFd = try Syscall.openDirectory(at: rootFd, name)
        pendingID = pending.storeStarted()
    }

    deinit {
        if !ended { pending.storeEnded(self) }
        Syscall.close(objectsFd)
        for fd in subdirFds where fd >= 0 { Syscall.close(fd) }
        if tmpFd >= 0 { Syscall.close(tmpFd) }
    }

    package static func split(_ d: Digest) -> (dir: Int, rest: PathBytes) {
        let hex = Array(d.hex.utf8)
        return (Int(d.bytes[0]), Array(hex[2...]))
    }

    /// The path of an object relative to the repository root, e.g. `.objects/ab/cdef…`.
    public static func relativePath(of d: Digest) -> String {
        let hex = d.hex
        return ".objects/" + hex.prefix(2) + "/" + hex.dropFirst(2)
    }

    func subdir(_ i: Int) throws -> Int32 {
        if subdirFds[i] >= 0 { return subdirFds[i] }
        let hexDigits = Array("0123456789abcdef".utf8)
        let name: PathBytes = [hexDigits[i >> 4], hexDigits[i & 15]]
        if try Syscall.lstat(at: objectsFd, name) == nil {
            do { try Syscall.mkdir(at: objectsFd, name, mode: 0o755) } catch let e as ImgsyncError where e.errno == EEXIST {}
        }
        let fd = try Syscall.openDirectory(at: objectsFd, name)
        subdirFds[i] = fd
        return fd
    }

    func tmpDir() throws -> Int32 {
        if tmpFd >= 0 { return tmpFd }
        let name = Array("tmp".utf8)
        if try Syscall.lstat(at: objectsFd, name) == nil {
            do { try Syscall.mkdir(at: objectsFd, name, mode: 0o700) } catch let e as ImgsyncError where e.errno == EEXIST {}
        }
        tmpFd = try Syscall.openDirectory(at: objectsFd, name)
        return tmpFd
    }

    /// With `lock` held, outside hardlink mode (ObjectStore+Shared.swift): the canonical object of
    /// `d`, as its directory fd and name.
    func lookupCanonical(_ d: Digest) throws -> (Int32, PathBytes)? {
        let (dir, rest) = ObjectStore.split(d)
        let dfd = try subdir(dir)
        if known[ObjectName(d, rest)] != nil { return (dfd, rest) }
        guard try Syscall.lstat(at: dfd, rest) != nil else { return nil }
        remember(ObjectName(d, rest), Metadata(mode: 0, sec: 0, nsec: 0))
        return (dfd, rest)
    }

    /// Places an already-stored body at `dirfd/name` (which must not exist) with the given metadata,
    /// without writing its bytes. Returns false when the store does not hold a usable inode.
    /// `mayWrite`: the caller writes the body when this returns false (the file writer), so the
    /// lookup may be skipped while it rarely finds anything (`DedupOdds`); loading a tree from a
    /// catalog and copying a hard-linked file need the object found whenever it exists.
    ///
    /// `trustCanonical` (hardlink mode): a catalog says the canonical object has this metadata
    /// (`CatalogEntry.canonicalObject`); it is linked without looking at it first.
    func placeExisting(_ d: Digest, size: Int64, mode: UInt32, sec: Int64, nsec: UInt32, dirfd: Int32, name: PathBytes,
                       mayWrite: Bool = false, trustCanonical: Bool = false) throws -> Placement {
        switch self.mode {
        case .hardlink:
            let want = Metadata(mode: UInt32(ObjectStore.sharedMode(mode, worldReadable: worldReadable)), sec: sec, nsec: nsec)
            return try placeShared(d, size: size, want, dirfd: dirfd, name: name, mayWrite: mayWrite, trustCanonical: trustCanonical)
        case .reflink, .copy:
            return try lock.withLock { try placeCopy(d, size: size, mode: mode, sec: sec, nsec: nsec, dirfd: dirfd, name: name) } ? .other : .absent
        case .auto:
            return .absent
        }
    }

    /// How `placeExisting` placed a body.
    enum Placement: Equatable {
        /// Not stored (with a usable inode): the caller writes the body.
        case absent
        /// Linked to the canonical object, which has the wanted metadata.
        case canonical
        /// Linked to another inode of the body (a variant, a continuation), or a copy or clone.
        case other
    }

    /// With `lock` held: `placeExisting` in reflink and copy mode (a clone or copy of the object).
    private func placeCopy(_ d: Digest, size: Int64, mode: UInt32, sec: Int64, nsec: UInt32, dirfd: Int32, name: PathBytes) throws -> Bool {
        switch self.mode {
        case .reflink, .copy:
            guard let (ofd, oname) = try lookupCanonical(d) else { return false }
            pending.noteUse(ObjectName(d, oname), by: self)
            let src = oname.withCString { openat(ofd, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
            if src < 0 { throw Syscall.failure("open object", d.description) }
            defer { Syscall.close(src) }
            let dst = name.withCString { openat(dirfd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
            if dst < 0 { throw Syscall.failure("create", name.escapedForDisplay) }
            defer { Syscall.close(dst) }
            let r = self.mode == .reflink ? imgsync_ficlone(dst, src) : imgsync_copy_file(dst, src, size)
            if r != 0 { throw Syscall.failure("copy object into", name.escapedForDisplay) }
            try Syscall.chmod(fd: dst, ObjectStore.ownMode(mode, worldReadable: worldReadable))
            try Syscall.setTimes(fd: dst, sec: sec, nsec: nsec)
        case .hardlink, .auto:
            preconditionFailure("placeCopy in \(self.mode) mode")
        }
        bodiesReused += 1
        bytesReused += size
        return true
    }

    /// Records the body just written to `dirfd/name` (already closed, metadata applied) in the store.
    /// `fd` is an open read fd of that file when the mode needs one (reflink, copy).
    /// Returns whether the body's canonical object now has this metadata (hardlink mode: the file
    /// became it, or was linked to it).
    @discardableResult
    func adopt(_ d: Digest, size: Int64, mode: UInt32, sec: Int64, nsec: UInt32, dirfd: Int32, name: PathBytes, fd: Int32) throws -> Bool {
        switch self.mode {
        case .hardlink:
            let want = Metadata(mode: UInt32(ObjectStore.sharedMode(mode, worldReadable: worldReadable)), sec: sec, nsec: nsec)
            return try adoptShared(d, size: size, want, dirfd: dirfd, name: name)
        case .reflink, .copy, .auto:
            try lock.withLock { try adoptCopy(d, size: size, sec: sec, nsec: nsec, fd: fd) }
            return false
        }
    }

    /// With `lock` held: `adopt` in reflink and copy mode (the object is a clone or copy of `fd`).
    private func adoptCopy(_ d: Digest, size: Int64, sec: Int64, nsec: UInt32, fd: Int32) throws {
        let (dir, rest) = ObjectStore.split(d)
        let dfd = try subdir(dir)
        let object = ObjectName(d, rest)
        if try Syscall.lstat(at: dfd, rest) != nil {
            pending.noteUse(object, by: self)
            remember(object, Metadata(mode: 0, sec: 0, nsec: 0))
            // Stored since this file looked (another writer thread): in reflink mode, share the
            // object's extents after all. (A copy-mode file keeps its own blocks anyway.)
            if self.mode == .reflink {
                let src = rest.withCString { openat(dfd, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
                if src >= 0 {
                    defer { Syscall.close(src) }
                    if imgsync_ficlone(fd, src) == 0 {
                        try Syscall.setTimes(fd: fd, sec: sec, nsec: nsec)
                        bodiesReused += 1
                        bytesReused += size
                    }
                }
            }
            return
        }
        let (tname, out) = try createTemporary(d)
        var ok = false
        defer {
            Syscall.close(out)
            if !ok { _ = tname.withCString { unlinkat(tmpFd, $0, 0) } }
        }
        let r = self.mode == .reflink ? imgsync_ficlone(out, fd) : imgsync_copy_file(out, fd, size)
        if r != 0 { throw Syscall.failure("copy body into object", d.description) }
        try Syscall.chmod(fd: out, 0o444)
        let claimed = pending.willCreate(object, by: self)
        let rr = tname.withCString { t in rest.withCString { imgsync_rename_noreplace(tmpFd, t, dfd, $0) } }
        let e = errno
        if rr != 0 && claimed { pending.forget(object, by: self) }
        if rr != 0 && e != EEXIST { throw Syscall.failure("name object", d.description, e) }
        ok = rr == 0
        if !ok { _ = tname.withCString { unlinkat(tmpFd, $0, 0) }; ok = true }
        else {
            objectsAdded += 1
            bytesAdded += size
        }
        remember(object, Metadata(mode: 0, sec: 0, nsec: 0))
    }

    /// A new empty file in `.objects/tmp`, open for writing (named by `TemporaryName`).
    func createTemporary(_ d: Digest) throws -> (PathBytes, Int32) {
        let tdir = try tmpDir()
        for _ in 0..<8 {
            let tname = Array(TemporaryName.next().utf8)
            let out = tname.withCString { openat(tdir, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
            if out >= 0 { return (tname, out) }
            if errno != EEXIST { break }
        }
        throw Syscall.failure("create object", d.description)
    }

    /// Makes sure the empty body's object exists (tree files of size 0 are never linked to it).
    func storeEmpty() throws {
        lock.lock()
        defer { lock.unlock() }
        let d = Digest.empty
        let (dir, rest) = ObjectStore.split(d)
        if known[ObjectName(d, rest)] != nil { return }
        let dfd = try subdir(dir)
        if try Syscall.lstat(at: dfd, rest) == nil {
            let fd = rest.withCString { openat(dfd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o444) }
            if fd >= 0 { Syscall.close(fd); objectsAdded += 1 } else if errno != EEXIST { throw Syscall.failure("store object", d.description) }
        }
        remember(ObjectName(d, rest), Metadata(mode: 0o444, sec: 0, nsec: 0))
    }

    /// Tests whether reflinks work between two files in the store's filesystem.
    public static func supportsReflink(repositoryFd rootFd: Int32) -> Bool {
        let a = Array(TemporaryName.next(prefix: ".imgsync-reflink-probe-a.").utf8),
            b = Array(TemporaryName.next(prefix: ".imgsync-reflink-probe-b.").utf8)
        let fa = a.withCString { openat(rootFd, $0, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
        let fb = b.withCString { openat(rootFd, $0, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
        defer {
            if fa >= 0 { Syscall.close(fa); _ = a.withCString { unlinkat(rootFd, $0, 0) } }
            if fb >= 0 { Syscall.close(fb); _ = b.withCString { unlinkat(rootFd, $0, 0) } }
        }
        guard fa >= 0, fb >= 0 else { return false }
        var byte: UInt8 = 1
        guard write(fa, &byte, 1) == 1 else { return false }
        return imgsync_ficlone(fb, fa) == 0
    }
}

/// The share of small bodies found already stored among the last `window` a build looked up (or,
/// while it skips the lookups, stored and then found stored): when fewer than one in `rarely` is,
/// the store stops looking before a small file is written. A layer of half a million new tiny
/// files then costs one failed `lstat` less a file; a layer of known bodies turns the lookups back
/// on within one window.
struct DedupOdds {
    static let smallBody: Int64 = 64 << 10
    static let window = 512
    static let rarely = 32
    private var seen = 0
    private var stored = 0
    private(set) var skipLookups = false

    mutating func note(stored wasStored: Bool) {
        seen += 1
        if wasStored { stored += 1 }
        if seen == Self.window {
            skipLookups = stored * Self.rarely < seen
            (seen, stored) = (0, 0)
        }
    }
}
