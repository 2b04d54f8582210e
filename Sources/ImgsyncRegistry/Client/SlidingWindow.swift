/// Bounded parallelism for blob downloads.
public enum SlidingWindow {
    /// Runs `body` for every item with at most `limit` running at once (a sliding window over a task
    /// group): a new item starts as soon as one finishes. The first error cancels the rest and is thrown.
    public static func forEach<Item: Sendable>(
        _ items: [Item], limit: Int, _ body: @escaping @Sendable (Item) async throws -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var iterator = items.makeIterator()
            for _ in 0..<max(1, limit) {
                guard let item = iterator.next() else { break }
                group.addTask { try await body(item) }
            }
            while try await group.next() != nil {
                if let item = iterator.next() { group.addTask { try await body(item) } }
            }
        }
    }
}
