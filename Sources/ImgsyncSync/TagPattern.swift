import ImgsyncCore

/// A tag glob from the image list (`*`, `v2.3.*`, `rhel[67]-m?`), matched as `fnmatch(3)` without
/// flags would: `*` is any run of characters (tags hold no `/`), `?` is one character, `[…]` is a
/// set with ranges (`a-z`) and `!` or `^` to negate, and a `]` right after the opening bracket (or
/// after the negation) is literal. A `[` without its `]` is a literal `[`, as in Python's fnmatch,
/// but since `[` is no tag character such a pattern is rejected. There is no backslash escape:
/// nothing in the tag alphabet needs one.
public struct TagPattern: Hashable, Sendable, CustomStringConvertible {
    /// The pattern as written.
    public let text: String
    private let elements: [Element]

    private enum Element: Hashable, Sendable {
        case literal(UInt8)
        case one
        case any
        case set(negated: Bool, ranges: [ClosedRange<UInt8>])
    }

    /// Whether `text` contains glob syntax at all (and so must be a pattern rather than a tag).
    public static func isPattern(_ text: String) -> Bool {
        text.utf8.contains { $0 == 0x2A || $0 == 0x3F || $0 == 0x5B }
    }

    /// Parses a pattern. Every literal character, and every character in a set, must be a tag
    /// character (`[A-Za-z0-9._-]`); the error names the pattern and what is wrong with it.
    public init(_ text: String) throws {
        func fail(_ why: String) -> ImgsyncError {
            ImgsyncError(.invalidTag, "invalid tag pattern \"\(text)\": \(why)")
        }
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw fail("it is empty") }
        guard bytes.count <= 255 else { throw fail("it is longer than 255 characters") }
        var elements: [Element] = []
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case 0x2A:  // *
                if elements.last != .any { elements.append(.any) }
                i += 1
            case 0x3F:  // ?
                elements.append(.one)
                i += 1
            case 0x5B:  // [
                let (set, next) = try Self.parseSet(bytes, from: i, fail)
                elements.append(set)
                i = next
            default:
                guard Self.isTagByte(c) else {
                    let shown = c < 0x80 ? String(UnicodeScalar(c)) : "byte 0x" + String(c, radix: 16)
                    throw fail("\"\(shown)\" is neither a tag character (A-Z a-z 0-9 . _ -) nor glob syntax (* ? [...])")
                }
                elements.append(.literal(c))
                i += 1
            }
        }
        self.text = text
        self.elements = elements
    }

    public var description: String { text }

    /// Whether `tag` matches the whole pattern.
    public func matches(_ tag: String) -> Bool {
        let t = Array(tag.utf8)
        // Iterative matching with one backtrack point for the most recent `*` (linear in practice,
        // never exponential).
        var p = 0, s = 0
        var starP = -1, starS = 0
        while s < t.count {
            if p < elements.count, elements[p] != .any, Self.matchOne(elements[p], t[s]) {
                p += 1
                s += 1
            } else if p < elements.count, elements[p] == .any {
                starP = p
                starS = s
                p += 1
            } else if starP >= 0 {
                p = starP + 1
                starS += 1
                s = starS
            } else {
                return false
            }
        }
        while p < elements.count, elements[p] == .any { p += 1 }
        return p == elements.count
    }

    /// The tags of `tags` that match, sorted (byte order) and without repeats.
    public func filter(_ tags: [String]) -> [String] {
        Array(Set(tags.filter(matches))).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    private static func matchOne(_ element: Element, _ c: UInt8) -> Bool {
        switch element {
        case .literal(let l): return l == c
        case .one: return true
        case .any: return true
        case .set(let negated, let ranges): return ranges.contains { $0.contains(c) } != negated
        }
    }

    /// Parses `[...]` starting at `start` (the `[`); returns the set and the index after its `]`.
    private static func parseSet(
        _ b: [UInt8], from start: Int, _ fail: (String) -> ImgsyncError
    ) throws -> (Element, Int) {
        var i = start + 1
        var negated = false
        if i < b.count, b[i] == 0x21 || b[i] == 0x5E {  // ! or ^
            negated = true
            i += 1
        }
        var ranges: [ClosedRange<UInt8>] = []
        var first = true
        while i < b.count {
            let c = b[i]
            if c == 0x5D && !first {  // ]
                return (.set(negated: negated, ranges: ranges), i + 1)
            }
            first = false
            var hi = c
            if i + 2 < b.count, b[i + 1] == 0x2D, b[i + 2] != 0x5D {  // a-z
                hi = b[i + 2]
                i += 3
            } else {
                i += 1
            }
            guard isTagByte(c), isTagByte(hi) else {
                throw fail("a [set] may only hold tag characters A-Z a-z 0-9 . _ -")
            }
            guard c <= hi else {
                throw fail("the range \(String(UnicodeScalar(c)))-\(String(UnicodeScalar(hi))) in a [set] runs backwards")
            }
            ranges.append(c...hi)
        }
        throw fail("\"[\" at position \(start + 1) has no closing \"]\"")
    }

    static func isTagByte(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39)
            || c == 0x5F || c == 0x2E || c == 0x2D
    }
}
