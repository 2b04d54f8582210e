import Foundation

/// Every process the tests start (all test targets run in one test process) is launched under
/// this lock. Foundation's `Process.run()` finds the highest open fd by listing /proc/self/fd and
/// copies each entry's whole 256-byte name field out of glibc's 32 KiB listing buffer: with about
/// 1,350 descriptors open the listing fills that buffer and the copy of its last entry reads past
/// the end (a test run died of SIGSEGV in that memcpy, fds 1357 and 1358 in the registers). One
/// launch at a time does not prevent that. What does: `scripts/test` runs the tests with one malloc
/// arena (`MALLOC_ARENA_MAX=1`), whose heap keeps room to spare after every block, so the copy
/// never reaches unmapped memory (a thread's arena grows by just the pages it needs).
private let processLaunchLock = NSLock()

extension Process {
    /// `run()`, one launch at a time in this test process.
    public func runSerialized() throws {
        try processLaunchLock.withLock { try run() }
    }
}
