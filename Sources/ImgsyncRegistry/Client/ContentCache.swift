import Foundation
import ImgsyncCore

/// Manifests fetched by digest and image configs, kept by registry, repository and digest for one
/// run (`beginRun` empties it), so that a second tag of the same image, the other platforms of
/// an index, or `add --sync`'s check followed by its sync ask the registry once. Every entry was
/// verified against its digest when it was fetched, so it is exactly what a second request would
/// return. At most `maxBytes` in all; beyond that the oldest entries go first.
final class ContentCache: @unchecked Sendable {
    // @unchecked: every member is touched only under `lock`.
    struct Entry {
        let bytes: [UInt8]
        let contentType: String?
    }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    /// Keys in the order they came; `head` is the oldest still counted.
    private var order: [String] = []
    private var head = 0
    private var bytes = 0
    let maxBytes: Int

    init(maxBytes: Int = 32 << 20) { self.maxBytes = maxBytes }

    static func key(registry: String, repository: String, digest: Digest) -> String {
        "\(registry)/\(repository)@\(digest)"
    }

    func get(_ key: String) -> Entry? { lock.withLock { entries[key] } }

    func put(_ key: String, _ entry: Entry) {
        guard entry.bytes.count <= maxBytes else { return }
        lock.withLock {
            guard entries[key] == nil else { return }
            entries[key] = entry
            order.append(key)
            bytes += entry.bytes.count
            while bytes > maxBytes, head < order.count {
                if let old = entries.removeValue(forKey: order[head]) { bytes -= old.bytes.count }
                head += 1
            }
            if head > 64 && head * 2 > order.count {
                order.removeFirst(head)
                head = 0
            }
        }
    }

    /// Forgets everything (a new run of `imgsync serve`, which keeps its client).
    func removeAll() {
        lock.withLock {
            entries.removeAll()
            order.removeAll()
            head = 0
            bytes = 0
        }
    }
}
