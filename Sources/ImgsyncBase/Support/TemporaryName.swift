#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Names for files that exist only until they are renamed into place (objects being written,
/// links being swapped): `<prefix><pid>-<n>-<random>`, unique within the process (one counter for
/// every store, builder and thread) and, with the random part, against leftovers of an earlier
/// process that had the same pid. Callers still create them with `O_EXCL` and retry on `EEXIST`.
public enum TemporaryName {
    private static let counter = Atomic<UInt64>(0)

    public static func next(prefix: String = "") -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return "\(prefix)\(getpid())-\(n)-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }
}
