#if canImport(Glibc)
import Glibc
#endif
import ImgsyncBase
import ImgsyncRepository

/// What a build worker may leave in the repository when it dies (a trap, SIGKILL), found by its
/// pid: every temporary name imgsync makes is `<prefix><pid>-<n>-<random>` (`TemporaryName`). The
/// next lock would remove them too (`Repository.cleanStaging`); removing them when the worker ends
/// keeps a long run from carrying a dead build's staging tree until then. Removal goes through the
/// repository's one byte-safe remover (`TreeRemover`), never following a symlink.
enum WorkerLeftovers {
    /// `nameDirectory` is the directory of the name being published (a temporary link may be
    /// there).
    static func remove(pid: pid_t, root: String, nameDirectory: String) {
        let p = "\(pid)-"
        let building = removeEntries(in: root + "/.imgsync/staging") { $0.hasPrefix("build-" + p) }
        let storing = removeEntries(in: root + "/.objects/tmp") { $0.hasPrefix(p) }
        // It died mid-build: bodies it stored may be listed by no catalog; only the full GC finds them.
        if building || storing { Repository.invalidateGCIndex(root: root) }
        for dir in [".imgsync", ".imgsync/catalogs/chains", ".imgsync/catalogs/images", ".imgsync/images"] {
            removeEntries(in: root + "/" + dir) { $0.contains(".tmp-" + p) }
        }
        removeEntries(in: nameDirectory) { $0.hasPrefix(".imgsync-link-" + p) }
    }

    /// Removes the entries of `directory` whose names `matches` (these names are imgsync's own,
    /// ASCII), directories with everything in them. Best effort: what stays is swept at the next lock.
    /// Returns whether there was any.
    @discardableResult
    static func removeEntries(in directory: String, _ matches: (String) -> Bool) -> Bool {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard let names = try? DirectoryListing.names(of: fd) else { return false }
        var found = false
        for name in names where matches(String(decoding: name, as: UTF8.self)) {
            found = true
            _ = try? TreeRemover.remove(name, in: fd)
        }
        return found
    }
}
