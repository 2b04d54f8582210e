extension Result where Failure == any Error {
    /// The value `body` returns, or the error it throws.
    ///
    /// Task closures (`addTask`, `Task { }`) that report an outcome use this instead of
    /// `do { return (key, .success(try await f())) } catch { return (key, .failure(error)) }`:
    /// Swift 6.3.1 with `-O` miscompiles a task closure that returns a tuple literal holding a
    /// `try await` inside a `do`/`catch` (the parent reads garbage: wrong values, SIGSEGV or
    /// SIGILL). The debug build is correct. docs/compiler-bugs.md has the reproducer.
    public static func capturing(_ body: () async throws -> Success) async -> Self {
        do {
            let value = try await body()
            return .success(value)
        } catch {
            return .failure(error)
        }
    }
}
