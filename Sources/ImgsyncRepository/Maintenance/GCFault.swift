import Foundation

/// A test hook: `IMGSYNC_FAULT_INJECTION=trap:gc-after-index[,trap:<point>…]` makes GC trap
/// (`fatalError`: the process dies on the spot, like `kill -9`) when it reaches that point, so that
/// crash tests can stop it exactly between two steps whose order matters. The points:
/// `gc-tree` (after a tree went), `gc-after-index` (the new index is on disk, nothing it released is
/// deleted yet), `gc-catalog` (after each catalog), `gc-after-catalogs`, `gc-object` (after each
/// object name), `gc-full-after-index` (full pass: index written, sweep not started).
enum GCFault {
    private static let points: Set<String> = {
        guard let spec = ProcessInfo.processInfo.environment["IMGSYNC_FAULT_INJECTION"], !spec.isEmpty else { return [] }
        return Set(spec.split(separator: ",").compactMap { $0.hasPrefix("trap:gc-") ? String($0.dropFirst(5)) : nil })
    }()

    static func point(_ name: String) {
        if points.contains(name) { fatalError("IMGSYNC_FAULT_INJECTION: trap at \(name)") }
    }
}
