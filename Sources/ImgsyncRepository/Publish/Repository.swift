#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A publishing root: `<org>/<image>:<tag>` symlinks, `.images/` trees, `.objects/` bodies and
/// `.imgsync/` state (docs/design.md §2).
public final class Repository {
    public let root: String
    let rootFd: Int32
    private var lockFd: Int32 = -1

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
    public func lock(wait: Bool = false, at path: String? = nil) throws {
        if lockFd >= 0 { return }
        let path = path ?? ProcessInfo.processInfo.environment["IMGSYNC_LOCK_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? root + "/.imgsync/lock"
        let fd: Int32
        do {
            fd = try Syscall.openPath(path, flags: O_RDWR | O_CREAT, mode: 0o644)
        } catch let e as ImgsyncError where e.errno == EROFS || (e.errno == ENOENT && access(root, W_OK) != 0) {
            throw ImgsyncError(.config, "cannot create the lock file \(path): the file system is read-only; for a root that is read-only outside a transaction (CVMFS), pass --lock-file with a path outside it and open the transaction with --before-change", errno: EROFS)
        }
        if flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            Syscall.close(fd)
            throw ImgsyncError(.busy, "repository \(root) is locked by another imgsync process (pid \(holder)); retry later or pass --wait")
        }
        _ = ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        pid.withUnsafeBytes { _ = pwrite(fd, $0.baseAddress, $0.count, 0) }
        lockFd = fd
        // With the lock held, staging directories left by earlier processes are dead. (A read-only
        // root keeps them until it is writable: `SyncEngine` cleans again after its before-change hook.)
        if access(root, W_OK) == 0 { cleanStaging() }
    }

    public func cleanStaging() {
        let staging = root + "/.imgsync/staging"
        guard let items = try? FileManager.default.contentsOfDirectory(atPath: staging) else { return }
        for item in items { Repository.removeTree(staging + "/" + item) }
        let tmp = root + "/.objects/tmp"
        if let items = try? FileManager.default.contentsOfDirectory(atPath: tmp) {
            for item in items { unlink(tmp + "/" + item) }
        }
        // Temporary files of `writeAtomically` (catalogs, image records, state) a dead process left.
        for dir in [".imgsync", ".imgsync/catalogs/chains", ".imgsync/catalogs/images", ".imgsync/images"] {
            guard let items = try? FileManager.default.contentsOfDirectory(atPath: root + "/" + dir) else { continue }
            for item in items where item.contains(".tmp-") { unlink(root + "/" + dir + "/" + item) }
        }
        // Temporary symlinks of `link` that were never renamed over a name.
        forEachNameEntry { path, name, _ in
            if (name.split(separator: "/").last ?? "").hasPrefix(".imgsync-link-") { unlink(path) }
        }
    }

    /// Removes a directory tree, first making directories writable (trees hold 0555 and 0000 dirs).
    static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            chmod(path, 0o700)
            if let items = try? FileManager.default.contentsOfDirectory(atPath: path) {
                for item in items { removeTree(path + "/" + item) }
            }
            rmdir(path)
        } else {
            unlink(path)
        }
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

    /// Writes a file atomically and durably: temp name, fsync, rename.
    func writeAtomically(_ path: String, _ bytes: [UInt8]) throws {
        // Unique per call: builds running concurrently in one process may write the same chain catalog.
        let tmp = path + "." + TemporaryName.next(prefix: "tmp-")
        let fd = try Syscall.openPath(tmp, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        do {
            try bytes.withUnsafeBytes { try Syscall.writeAll(fd, $0) }
            if fsync(fd) != 0 { throw Syscall.failure("fsync", tmp) }
        } catch {
            Syscall.close(fd)
            unlink(tmp)
            throw error
        }
        Syscall.close(fd)
        if rename(tmp, path) != 0 { throw Syscall.failure("rename", tmp) }
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
