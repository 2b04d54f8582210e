/// Which library inflates gzip layers. ISA-L is about twice as fast as zlib here; zlib stays available
/// for comparison and as a fallback.
public enum GzipEngine: String, Sendable, CaseIterable {
    case isal
    case zlib
}
