/// Paths inside a layer or a tree are byte strings: never Swift `String`, whose equality is Unicode
/// canonical equivalence and whose decoding repairs ill-formed UTF-8 (docs/conformance.md D1, U17, U18).
public typealias PathBytes = [UInt8]

extension Array where Element == UInt8 {
    /// A readable rendering for messages: printable ASCII as is, everything else as `\xNN`.
    public var escapedForDisplay: String {
        var out = ""
        out.reserveCapacity(count)
        for b in self {
            switch b {
            case 0x5C: out += "\\\\"
            case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = String(b, radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    /// Builds path bytes from a Swift string literal's UTF-8 (for tests and fixed names only).
    public init(utf8 string: String) { self = Array(string.utf8) }

    /// Whether `needle` occurs in these bytes. A plain loop: the standard library's generic
    /// `contains(_:)` for collections goes through unspecialised searchers and the runtime's
    /// metadata caches, which made a sweep of a few thousand names cost tens of milliseconds.
    public func containsBytes(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard needle.count <= count else { return false }
        return withUnsafeBufferPointer { hay in
            needle.withUnsafeBufferPointer { n in
                let first = n[0]
                var i = 0
                let last = hay.count - n.count
                while i <= last {
                    if hay[i] == first {
                        var j = 1
                        while j < n.count && hay[i + j] == n[j] { j += 1 }
                        if j == n.count { return true }
                    }
                    i += 1
                }
                return false
            }
        }
    }
}

/// Lexical path normalisation for tar names (docs/conformance.md D1).
public enum PathNormalizer {
    public enum Result: Equatable, Sendable {
        /// The root itself (`.`, `/`, empty after cleaning).
        case root
        /// Cleaned, relative, non-empty components.
        case components([PathBytes])
        /// The name escapes the root lexically (`..`, `../x`, `a/../../x`).
        case traversal
    }

    /// Strips leading `/`, drops `.` components and empty components, resolves `x/..` lexically.
    public static func normalize(_ name: PathBytes) -> Result {
        var parts: [PathBytes] = []
        var i = 0
        let n = name.count
        while i < n {
            var j = i
            while j < n && name[j] != 0x2F { j += 1 }
            let len = j - i
            if len == 0 || (len == 1 && name[i] == 0x2E) {
                // empty or "."
            } else if len == 2 && name[i] == 0x2E && name[i + 1] == 0x2E {
                if parts.isEmpty { return .traversal }
                parts.removeLast()
            } else {
                parts.append(Array(name[i..<j]))
            }
            i = j + 1
        }
        return parts.isEmpty ? .root : .components(parts)
    }
}
