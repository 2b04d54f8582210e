#if canImport(Glibc)
import Glibc
#endif
import ImgsyncBase

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
        removeEntries(in: root + "/.imgsync/staging") { $0.hasPrefix("build-" + p) }
        removeEntries(in: root + "/.objects/tmp") { $0.hasPrefix(p) }
        for dir in [".imgsync", ".imgsync/catalogs/chains", ".imgsync/catalogs/images", ".imgsync/images"] {
            removeEntries(in: root + "/" + dir) { $0.contains(".tmp-" + p) }
        }
        removeEntries(in: nameDirectory) { $0.hasPrefix(".imgsync-link-" + p) }
    }

    /// Removes the entries of `directory` whose names `matches` (these names are imgsync's own,
    /// ASCII), directories with everything in them. Best effort: what stays is swept at the next lock.
    static func removeEntries(in directory: String, _ matches: (String) -> Bool) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        guard let names = try? DirectoryListing.names(of: fd) else { return }
        for name in names where matches(String(decoding: name, as: UTF8.self)) {
            _ = try? TreeRemover.remove(name, in: fd)
        }
    }
}
