#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Options of the command taking the lock that its error messages may suggest (a hint names only
/// options the command has).
public struct LockAdvice: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// `--wait`: wait for the lock.
    public static let wait = LockAdvice(rawValue: 1)
    /// `--lock-file`: a lock file outside a read-only root.
    public static let lockFile = LockAdvice(rawValue: 2)
    /// `--before-change`: a hook that makes the root writable.
    public static let beforeChange = LockAdvice(rawValue: 4)
    public static let all: LockAdvice = [.wait, .lockFile, .beforeChange]
}

/// A publishing root: `<org>/<image>:<tag>` symlinks, `.images/` trees, `.objects/` bodies and
/// `.imgsync/` state (docs/design.md §2).
public final class Repository {
    public let root: String
    package let rootFd: Int32
    private var lockFd: Int32 = -1
    /// Objects that builds in this process named and no catalog lists yet (shared by their stores).
    package let pendingObjects = PendingObjects()

    /// The directories every repository has (created by `createLayout`).
    static let layout = [".objects", ".images", ".imgsync", ".imgsync/staging", ".imgsync/catalogs",
                         ".imgsync/catalogs/chains", ".imgsync/catalogs/images"]

    /// Opens the repository at `root`.
    ///
    /// With `create` (what `sync`, `apply` and `add --sync` do) a missing root and its layout are
    /// created; a root that is read-only for now (a CVMFS repository outside a transaction) is
    /// opened as it is, and `createLayout()` is called again once it is writable. Without
    /// `create` (every command that reads or maintains a repository) `root` must already be one
    /// (it has `.imgsync/`): a mistyped path is an error, never a new empty repository.
    public init(root: String, create: Bool = true) throws {
        let absolute = root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root
        self.root = absolute
        if create {
            do {
                try FileManager.default.createDirectory(atPath: absolute, withIntermediateDirectories: true)
            } catch {
                throw ImgsyncError(.config, "cannot create the repository root \(absolute): \(Repository.reason(error))")
            }
            try Repository.createLayout(at: absolute, tolerateReadOnly: true)
        } else {
            var st = stat()
            guard stat(absolute, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
                throw ImgsyncError(.config, "\(absolute) is not an imgsync repository: no such directory (check --root or IMGSYNC_ROOT)")
            }
            guard stat(absolute + "/.imgsync", &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
                throw ImgsyncError(.config, "\(absolute) is not an imgsync repository: it has no .imgsync/ directory (check --root or IMGSYNC_ROOT; `imgsync sync` creates one)")
            }
        }
        rootFd = try Syscall.openPath(absolute, flags: O_RDONLY | O_DIRECTORY)
    }

    /// Creates the repository's directories that are missing. With `tolerateReadOnly`, a
    /// read-only root is left as it is (nothing can be created before the before-change hook).
    public func createLayout(tolerateReadOnly: Bool = false) throws {
        try Repository.createLayout(at: root, tolerateReadOnly: tolerateReadOnly)
    }

    static func createLayout(at root: String, tolerateReadOnly: Bool) throws {
        for d in layout {
            let p = root + "/" + d
            if mkdir(p, 0o755) == 0 || errno == EEXIST { continue }
            if tolerateReadOnly && errno == EROFS { return }
            throw Syscall.failure("create", p)
        }
    }

    /// An error's text without Foundation's domain and code wrapping.
    static func reason(_ error: any Error) -> String {
        if let e = error as? ImgsyncError { return e.message }
        let ns = error as NSError
        if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        return ns.localizedDescription
    }

    deinit {
        if lockFd >= 0 { Syscall.close(lockFd) }
        Syscall.close(rootFd)
    }

    /// Takes the repository lock: flock on `path`, else on `$IMGSYNC_LOCK_FILE`, else on
    /// `<root>/.imgsync/lock`. Without `wait`, a held lock is an error naming the holder's pid.
    /// `advice` lists the options of the calling command that its error messages may suggest.
    public func lock(wait: Bool = false, at path: String? = nil, advice: LockAdvice = .all) throws {
        if lockFd >= 0 { return }
        let path = path ?? ProcessInfo.processInfo.environment["IMGSYNC_LOCK_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? root + "/.imgsync/lock"
        let fd: Int32
        do {
            fd = try Syscall.openPath(path, flags: O_RDWR | O_CREAT, mode: 0o644)
        } catch let e as ImgsyncError where e.errno == EROFS || (e.errno == ENOENT && access(root, W_OK) != 0) {
            let hint = advice.isSuperset(of: [.lockFile, .beforeChange])
                ? "for a root that is read-only outside a transaction (CVMFS), pass --lock-file with a path outside it and open the transaction with --before-change"
                : "run this command while the root is writable (inside the CVMFS transaction)"
            throw ImgsyncError(.config, "cannot create the lock file \(path): the file system is read-only; \(hint)", errno: EROFS)
        }
        if flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            Syscall.close(fd)
            throw ImgsyncError(.busy, "repository \(root) is locked by another imgsync process (pid \(holder)); retry later\(advice.contains(.wait) ? " or pass --wait" : "")")
        }
        _ = ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        pid.withUnsafeBytes { _ = pwrite(fd, $0.baseAddress, $0.count, 0) }
        lockFd = fd
        // With the lock held, staging directories left by earlier processes are dead. (A read-only
        // root keeps them until it is writable: `SyncEngine` cleans again after its before-change hook.)
        if access(root, W_OK) == 0 { cleanStaging() }
    }

    /// Releases the repository lock taken by `lock` (nothing when not held). A run releases it
    /// when it ends rather than when this object goes: `imgsync serve` starts its next run in the
    /// same process, and something may still hold a reference to the last run's repository.
    public func unlock() {
        guard lockFd >= 0 else { return }
        Syscall.close(lockFd)
        lockFd = -1
    }

    /// Removes what dead processes left (the caller holds the lock): staging trees (failed builds,
    /// trees GC or a rebuild moved aside), object temporaries, temporary catalogs, records and
    /// state, temporary name links. Returns what could not be removed (one line each).
    @discardableResult
    public func cleanStaging() -> [String] {
        var problems: [String] = []
        var leftovers = false
        for dir in [".imgsync/staging", ".objects/tmp"] {
            do {
                guard let fd = try openDirectory(dir) else { continue }
                for name in try DirectoryListing.names(of: fd.rawValue) {
                    leftovers = true
                    do {
                        try TreeRemover.remove(name, in: fd.rawValue)
                    } catch {
                        problems.append("cannot remove \(dir)/\(name.escapedForDisplay(limit: 200)): \(error)")
                    }
                }
            } catch {
                problems.append("cannot clean \(dir): \(error)")
            }
        }
        // A process died while building or collecting: bodies it stored may be listed by no catalog,
        // which only the full mark-and-sweep finds. The next GC runs it (docs/design.md §3.7).
        if leftovers { invalidateGCIndex() }
        // Temporary files of `writeAtomically` (catalogs, image records, state) a dead process left.
        let marker = Array(".tmp-".utf8)
        for dir in [".imgsync", ".imgsync/catalogs/chains", ".imgsync/catalogs/images", ".imgsync/images"] {
            guard let fd = try? openDirectory(dir), let names = try? DirectoryListing.names(of: fd.rawValue) else { continue }
            for name in names where name.containsBytes(marker) {
                _ = name.withCString { unlinkat(fd.rawValue, $0, 0) }
            }
        }
        // Temporary symlinks of `link` that were never renamed over a name.
        let linkPrefix = Array(".imgsync-link-".utf8)
        forEachNameEntry { entry, _ in
            if entry.name.starts(with: linkPrefix) { _ = entry.name.withCString { unlinkat(entry.parentFd, $0, 0) } }
        }
        return problems
    }

    /// Opens a directory of the repository by its path relative to the root (`.imgsync/staging`);
    /// nil when it does not exist.
    package func openDirectory(_ relative: String) throws -> OwnedDescriptor? {
        do {
            return try OwnedDescriptor.directory(at: rootFd, path: relative)
        } catch let e as ImgsyncError where e.errno == ENOENT {
            return nil
        }
    }

    /// `openDirectory`, creating the directory (mode 0755, or 0700 for `.imgsync/staging`) when missing.
    package func makeDirectory(_ relative: String) throws -> OwnedDescriptor {
        if let fd = try openDirectory(relative) { return fd }
        do {
            try Syscall.makeDirectory(at: rootFd, Array(relative.utf8), mode: 0o755)
        } catch let e as ImgsyncError {
            throw ImgsyncError(.io, "cannot create \(root)/\(relative): \(e.errno.map(Syscall.errorString) ?? e.message)", errno: e.errno, cause: e)
        }
        return try OwnedDescriptor.directory(at: rootFd, path: relative)
    }

    /// Removes a directory tree given by path (`TreeRemover`: byte names, any depth, read-only and
    /// unreadable directories); whether it is gone.
    @discardableResult
    package static func removeTree(_ path: String) -> Bool {
        (try? removeTreeChecked(path)) != nil
    }

    /// `removeTree`, throwing what could not be removed.
    package static func removeTreeChecked(_ path: String) throws {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        let slash = trimmed.lastIndex(of: "/")
        let parent = slash.map { $0 == trimmed.startIndex ? "/" : String(trimmed[..<$0]) } ?? "."
        let name = slash.map { String(trimmed[trimmed.index(after: $0)...]) } ?? trimmed
        let fd: OwnedDescriptor
        do {
            fd = try OwnedDescriptor.directory(atPath: parent)
        } catch let e as ImgsyncError where e.errno == ENOENT {
            return
        }
        try TreeRemover.remove(Array(name.utf8), in: fd.rawValue)
    }

    /// The link mode to use for `requested` in this repository's filesystem.
    public func resolve(_ requested: LinkMode) -> LinkMode {
        guard requested == .auto else { return requested }
        return ObjectStore.supportsReflink(repositoryFd: rootFd) ? .reflink : .hardlink
    }

    static func shard(_ d: Digest) -> String {
        let hex = d.hex
        return String(hex.prefix(2)) + "/" + String(hex.dropFirst(2))
    }

    public func chainCatalogPath(_ chainID: Digest) -> String { root + "/.imgsync/catalogs/chains/" + chainID.hex }
    public func imageCatalogPath(_ imageID: Digest) -> String { root + "/.imgsync/catalogs/images/" + imageID.hex }
    public func imagePath(_ imageID: Digest) -> String { root + "/.images/" + Repository.shard(imageID) }

    /// The image's tree, open (nil when there is none).
    package func openTree(_ imageID: Digest) throws -> OwnedDescriptor? {
        try openDirectory(".images/" + Repository.shard(imageID))
    }

    /// Writes a file atomically and durably: temp name, fsync, rename. A failure names `what` the
    /// file is (e.g. "the image catalog of org/app:1") and its path, and keeps the system call's
    /// error as the cause.
    func writeAtomically(_ path: String, _ bytes: [UInt8], what: String) throws {
        try writeAtomically(path, what: what) { fd in try bytes.withUnsafeBytes { try Syscall.writeAll(fd, $0) } }
    }

    /// Writes a file through `write` (given a descriptor open for reading and writing on a new
    /// temporary file beside `path`), syncs it and renames it to `path`: readers see the old file
    /// or the whole new one.
    func writeAtomically(_ path: String, what: String, _ write: (Int32) throws -> Void) throws {
        // Unique per call: builds running concurrently in one process may write the same chain catalog.
        let tmp = path + "." + TemporaryName.next(prefix: "tmp-")
        do {
            let fd = try Syscall.openPath(tmp, flags: O_RDWR | O_CREAT | O_TRUNC, mode: 0o644)
            do {
                try write(fd)
                if fsync(fd) != 0 { throw Syscall.failure("fsync", tmp) }
            } catch {
                Syscall.close(fd)
                unlink(tmp)
                throw error
            }
            Syscall.close(fd)
            if rename(tmp, path) != 0 {
                let e = Syscall.failure("rename", tmp)
                unlink(tmp)
                throw e
            }
        } catch let e as ImgsyncError {
            let reason = e.errno.map(Syscall.errorString) ?? e.message
            throw ImgsyncError(.io, "cannot write \(what) (\(path)): \(reason)", errno: e.errno, cause: e)
        }
    }

    /// Writes a catalog atomically (as `writeAtomically`), its entries given by `entries` to the
    /// encoder as they are walked: the catalog is never held in memory, compressed or not.
    func writeCatalog(_ path: String, what: String, _ entries: (inout CatalogCodec.Encoder) -> Void) throws {
        try writeAtomically(path, what: what) { fd in
            var encoder = CatalogCodec.Encoder(file: fd)
            entries(&encoder)
            try encoder.finishFile()
        }
    }

    public func readCatalog(chain: Digest) throws -> [CatalogEntry]? {
        guard let data = FileManager.default.contents(atPath: chainCatalogPath(chain)) else { return nil }
        return try CatalogCodec.decode(Array(data))
    }

    public func readCatalog(image: Digest) throws -> [CatalogEntry] {
        guard let data = FileManager.default.contents(atPath: imageCatalogPath(image)) else {
            throw ImgsyncError(.catalog, "no catalog for image \(image)")
        }
        return try CatalogCodec.decode(Array(data))
    }

    /// The longest prefix of `diffIDs` whose chain catalog exists: (layer count, catalog).
    public func longestKnownChain(_ diffIDs: [Digest]) throws -> (Int, [CatalogEntry])? {
        let chain = ChainID.chain(diffIDs)
        for k in stride(from: chain.count, through: 1, by: -1) {
            if let c = try readCatalog(chain: chain[k - 1]) { return (k, c) }
        }
        return nil
    }
}
