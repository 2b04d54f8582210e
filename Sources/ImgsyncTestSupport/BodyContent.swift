/// What generated file bodies contain (this sets how well a layer compresses).
public enum BodyContent: Sendable, Equatable {
    /// Uniformly random bytes (incompressible).
    case random
    /// Words from a small vocabulary (gzip ratio about 4:1).
    case text
    /// Alternating 1 KiB runs: one of random bytes, two of text (gzip ratio about 2.5:1, like `/usr`).
    case mixed
    /// All zeros.
    case zeros
}
