import ImgsyncCore

/// The tag grammar `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}` (distribution-spec). Tags that reach a URL or a
/// published path are always checked against it, including tags a registry returns (R49).
public enum TagName {
    public static func isValid(_ tag: String) -> Bool {
        let b = Array(tag.utf8)
        guard let first = b.first, b.count <= 128, isWord(first) else { return false }
        return b.dropFirst().allSatisfy { isWord($0) || $0 == 0x2E || $0 == 0x2D }
    }

    public static func validate(_ tag: String, context: String) throws {
        guard isValid(tag) else {
            throw ImgsyncError(
                .invalidTag,
                "\(context): invalid tag \"\(tag)\": a tag must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}"
            )
        }
    }

    /// Splits a registry's tag list into usable tags (order kept) and rejected ones.
    public static func partition(_ tags: [String]) -> (valid: [String], invalid: [String]) {
        var valid: [String] = []
        var invalid: [String] = []
        for tag in tags {
            if isValid(tag) { valid.append(tag) } else { invalid.append(tag) }
        }
        return (valid, invalid)
    }

    private static func isWord(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x5F
    }
}
