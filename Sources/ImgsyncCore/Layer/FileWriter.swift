import Foundation
import CImgsyncSys
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Hashes and writes small regular files (bodies already read into memory), and links the stored
/// bodies of a tree loaded from a catalog, on threads of their own
/// (`threads`, two by default), so that files' SHA-256 and syscalls (create, write, chmod, times,
/// link into the store) overlap with parsing and applying the entries after them, and with each
/// other: on ext4 the kernel's share of creating a file is the largest cost of a layer.
///
/// Ordering: the model is updated by the applier at once; only the disk work is deferred. A job
/// creates a new name in a directory that exists, so it cannot conflict with later creations. Every
/// operation that touches an existing name (removal, a hardlink to it) or closes a directory fd
/// calls `drain()` first, and `LayerApplier.apply` drains before it returns or throws, so the disk
/// matches the model whenever the applier's caller can look. The queue is bounded (bytes and jobs),
/// so memory stays fixed whatever the layer.
final class FileWriter: @unchecked Sendable {
    // @unchecked: `queue`, `head`, `queuedBytes`, `active`, `running`, `stopping`, `failure`,
    // `warnings` and the waiting flags are guarded by `cond`; a job (and the inode it fills in)
    // belongs to one writer thread from `submit` until the `drain` that waits for it, which orders
    // every later access by the applier. Two queued jobs never name the same path (a second entry
    // for a path removes the first, which drains), so they may run in any order.
    struct Job {
        let dirfd: Int32
        let name: PathBytes
        let body: [UInt8]
        let inode: Inode
        let diskMode: mode_t
        /// The tar entry's name, for errors and warnings.
        let entry: PathBytes
        /// A tree loaded from a catalog: link the stored body (`inode.sha256`) instead of writing
        /// `body` (empty); a body that is not stored is the job's error.
        var link = false
        /// With `link`: the catalog says the body's canonical object has this file's metadata
        /// (`CatalogEntry.canonicalObject`), so it is linked without looking at it first.
        var canonicalHint = false
    }

    static let maxQueuedBytes = 16 << 20
    static let maxQueuedJobs = 4096

    private let store: ObjectStore
    private let cond = NSCondition()
    private var queue: [Job] = []
    private var head = 0
    private var queuedBytes = 0
    /// Jobs taken by a writer and not finished yet.
    private var active = 0
    private var stopping = false
    private var running = 0
    private var failure: ImgsyncError?
    private var warnings: [String] = []
    // Who sleeps on `cond`, so that a wake-up is sent only when it can let someone go on: the
    // writer wakes a blocked `submit` once the queue is down to half, not after every file.
    private var idleWriters = 0
    private var submitWaiting = false
    private var drainWaiting = false

    init(store: ObjectStore, threads: Int = 2) {
        self.store = store
        running = threads
        for i in 0..<threads {
            let t = Thread { [self] in run() }
            t.stackSize = 1 << 20
            t.name = "imgsync-write-\(i)"
            t.start()
        }
    }

    /// Queues a file; waits while the queue is full. Throws the first failure of an earlier job.
    func submit(_ job: Job) throws {
        cond.lock()
        defer { cond.unlock() }
        while failure == nil && queue.count - head > 0
                && (queuedBytes + job.body.count > FileWriter.maxQueuedBytes || queue.count - head >= FileWriter.maxQueuedJobs) {
            submitWaiting = true
            cond.wait()
        }
        submitWaiting = false
        if let failure { throw failure }
        queue.append(job)
        queuedBytes += job.body.count
        if idleWriters > 0 { cond.signal() }
    }

    /// Waits until every queued file is on disk. Returns the warnings gathered since the last call;
    /// throws the first failure (which stays: every later call throws it too).
    @discardableResult
    func drain() throws -> [String] {
        cond.lock()
        defer { cond.unlock() }
        waitUntilIdle()
        if let failure { throw failure }
        let w = warnings
        warnings.removeAll()
        return w
    }

    /// Waits for the queue to empty without reporting failures (jobs after a failure are skipped):
    /// used on error paths, so that nothing writes once the caller has seen the error.
    func quiesce() {
        cond.lock()
        waitUntilIdle()
        cond.unlock()
    }

    /// With `cond` locked: waits until no job is queued or running.
    private func waitUntilIdle() {
        while head < queue.count || active > 0 {
            drainWaiting = true
            cond.wait()
        }
        drainWaiting = false
    }

    /// Finishes the queued work and ends the threads.
    func stop() {
        cond.lock()
        stopping = true
        cond.broadcast()
        while running > 0 { cond.wait() }
        cond.unlock()
    }

    private func run() {
        let hasher = SHA256Hasher()
        cond.lock()
        while true {
            while head == queue.count && !stopping {
                idleWriters += 1
                cond.wait()
                idleWriters -= 1
            }
            if head == queue.count { break }
            let job = queue[head]
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1024 && head * 2 >= queue.count {
                // A queue that never runs empty would otherwise keep every job taken from it (a
                // layer of 200,000 small files grew it to 6 MB): drop the taken ones now and then.
                queue.removeFirst(head)
                head = 0
            }
            active += 1
            let skip = failure != nil
            cond.unlock()

            var jobWarnings: [String] = []
            var jobError: ImgsyncError?
            if !skip {
                do {
                    try write(job, hasher: hasher, warnings: &jobWarnings)
                } catch var e as ImgsyncError {
                    if e.entry == nil { e.entry = job.entry.escapedForDisplay }
                    jobError = e
                } catch {
                    jobError = ImgsyncError(.io, "\(error)", entry: job.entry.escapedForDisplay)
                }
            }

            cond.lock()
            queuedBytes -= job.body.count
            active -= 1
            if failure == nil { failure = jobError }
            warnings += jobWarnings
            let pending = queue.count - head
            if (drainWaiting && pending == 0 && active == 0) || jobError != nil
                || (submitWaiting && (queuedBytes <= FileWriter.maxQueuedBytes / 2 && pending <= FileWriter.maxQueuedJobs / 2)) {
                cond.broadcast()
            }
        }
        running -= 1
        cond.broadcast()
        cond.unlock()
    }

    /// One file: hash the body; link (or clone) an equal stored body, or write it and adopt it.
    private func write(_ job: Job, hasher: SHA256Hasher, warnings: inout [String]) throws {
        let inode = job.inode
        let sec = inode.mtime, nsec = inode.mtimeNsec
        if job.link {
            let placed = try inode.sha256.map {
                try store.placeExisting($0, size: inode.size, mode: inode.mode, sec: sec, nsec: nsec, dirfd: job.dirfd, name: job.name,
                                        trustCanonical: job.canonicalHint)
            }
            guard let placed, placed != .absent else {
                throw ImgsyncError(.corruptObject, "the object store has no body \(inode.sha256?.description ?? "(none)") for \(job.entry.escapedForDisplay); run imgsync verify --repair or pull the image again")
            }
            inode.canonicalObject = placed == .canonical
            return
        }
        if job.body.isEmpty {
            let fd = try FileOps.create(job.dirfd, job.name)
            defer { Syscall.close(fd) }
            try Syscall.chmod(fd: fd, job.diskMode)
            try Syscall.setTimes(fd: fd, sec: sec, nsec: nsec)
            warnings += FileOps.applyXattrs(fd: fd, inode, entry: job.entry, mode: store.mode)
            inode.sha256 = Digest.empty
            try store.storeEmpty()
            return
        }
        let digest = job.body.withUnsafeBytes { buf -> Digest in
            hasher.update(buf)
            return hasher.finalize()
        }
        inode.sha256 = digest
        let size = Int64(job.body.count)
        let needsXattrs = store.mode != .hardlink && inode.xattrs.contains { FileOps.isApplicable($0.name) }
        if !needsXattrs {
            let placed = try store.placeExisting(digest, size: size, mode: inode.mode, sec: sec, nsec: nsec, dirfd: job.dirfd, name: job.name,
                                                 mayWrite: true)
            if placed != .absent {
                inode.canonicalObject = placed == .canonical
                return
            }
        }
        // Created with its permission bits when the umask leaves them whole (one chmod less a file).
        let modeAtCreation = FileOps.modeAtCreation(job.diskMode)
        let fd = try FileOps.create(job.dirfd, job.name, mode: modeAtCreation ?? 0o600)
        defer { Syscall.close(fd) }
        try job.body.withUnsafeBytes { try Syscall.writeAll(fd, $0) }
        warnings += try FileOps.finishAndAdopt(fd: fd, digest, size: size, inode, diskMode: job.diskMode, entry: job.entry,
                                               store: store, dirfd: job.dirfd, name: job.name, modeSet: modeAtCreation != nil)
    }
}

/// Per-file disk operations shared by the applier's thread and the writer thread.
enum FileOps {
    /// Creates a new file, never through an existing name (O_EXCL, O_NOFOLLOW), with permission
    /// bits `mode` less the umask (0600 unless `modeAtCreation` allowed more).
    static func create(_ dirfd: Int32, _ name: PathBytes, mode: mode_t = 0o600) throws -> Int32 {
        let fd = name.withCString { p in Syscall.retrying { openat(dirfd, p, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode) } }
        if fd < 0 { throw Syscall.failure("create", name.escapedForDisplay) }
        return fd
    }

    /// `mode` when a file created with it gets exactly those permission bits, so no chmod is
    /// needed after writing: no set-user-ID, set-group-ID or sticky bit (a write by a process
    /// without CAP_FSETID clears the first two) and no bit the umask removes. nil otherwise, and
    /// whenever the umask is not known (`FileCreation.recordUmask`): the file is created 0600 and
    /// chmodded once written.
    static func modeAtCreation(_ mode: mode_t, umask: mode_t? = FileCreation.umask) -> mode_t? {
        guard mode & 0o7000 == 0, let umask, mode & umask == 0 else { return nil }
        return mode
    }

    /// Only `user.*` xattrs are ever applied, and never to shared inodes (D8, docs/design.md §2).
    static func isApplicable(_ name: PathBytes) -> Bool { name.starts(with: userPrefix) }
    private static let userPrefix = Array("user.".utf8)

    /// Sets the applicable ones of `xattrs` on `fd`; returns a warning, naming `label`, for each one
    /// the filesystem refused.
    static func setXattrs(fd: Int32, _ xattrs: [Xattr], label: String) -> [String] {
        var warnings: [String] = []
        for x in xattrs where isApplicable(x.name) {
            let r = x.name.withCString { n in x.value.withUnsafeBytes { fsetxattr(fd, n, $0.baseAddress, $0.count, 0) } }
            if r != 0 {
                warnings.append("\(label): xattr \(x.name.escapedForDisplay) not applied: \(Syscall.errorString(errno))")
            }
        }
        return warnings
    }

    /// A regular file's xattrs: none on a shared inode (hardlink mode).
    static func applyXattrs(fd: Int32, _ inode: Inode, entry: PathBytes, mode: LinkMode) -> [String] {
        guard mode != .hardlink else { return [] }
        return setXattrs(fd: fd, inode.xattrs, label: entry.escapedForDisplay)
    }

    /// After a body was written to `fd`, in the order D9 asks: permission bits, xattrs, mtime; then
    /// the store adopts the file. Returns the xattr warnings.
    /// `modeSet`: the file was created with `diskMode` already (`modeAtCreation`).
    static func finishAndAdopt(fd: Int32, _ digest: Digest, size: Int64, _ inode: Inode, diskMode: mode_t, entry: PathBytes,
                               store: ObjectStore, dirfd: Int32, name: PathBytes, modeSet: Bool = false) throws -> [String] {
        if !modeSet { try Syscall.chmod(fd: fd, diskMode) }
        let warnings = applyXattrs(fd: fd, inode, entry: entry, mode: store.mode)
        try Syscall.setTimes(fd: fd, sec: inode.mtime, nsec: inode.mtimeNsec)
        inode.canonicalObject = try store.adopt(digest, size: size, mode: inode.mode, sec: inode.mtime, nsec: inode.mtimeNsec,
                                                dirfd: dirfd, name: name, fd: fd)
        return warnings
    }
}

/// The umask files are created under, when the command recorded it (`recordUmask`) at its start.
/// Only then are small files created with their final permission bits (`FileOps.modeAtCreation`):
/// imgsync never changes its umask, but a process that does (the test runner: a conformance test
/// sets one) would make a recorded value wrong, so a library user that records nothing keeps the
/// chmod after every write.
public enum FileCreation {
    private static let recorded = Atomic<UInt32>(UInt32.max)

    /// The recorded umask, nil when none was.
    static var umask: mode_t? {
        let v = recorded.load(ordering: .relaxed)
        return v == UInt32.max ? nil : mode_t(v)
    }

    /// Reads this process's umask from /proc/self/status (`umask(2)` reads it only by setting it,
    /// which would race with threads creating files) and records it. For a command's `main`, before
    /// any thread could change it.
    public static func recordUmask() {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8), let mask = parseUmask(status: text) else { return }
        recorded.store(UInt32(mask), ordering: .relaxed)
    }

    /// The `Umask:` line of a /proc/<pid>/status text (octal), or nil.
    static func parseUmask(status: String) -> mode_t? {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Umask:") }),
              let mask = mode_t(line.dropFirst("Umask:".count).trimmingCharacters(in: .whitespaces), radix: 8), mask <= 0o777 else { return nil }
        return mask
    }
}
