/// A published name such as `htc/rocky:9` or `library/debian@sha256:…`: relative, validated so it
/// can never point outside the root or collide with `.images`, `.objects` or `.imgsync`.
public struct PublishedName: Sendable, Hashable, CustomStringConvertible {
    public let components: [String]

    public init(_ name: String) throws {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty, name.utf8.count <= 1024 else {
            throw ImgsyncError(.invalidArgument, "invalid published name \"\(name)\"")
        }
        for p in parts {
            guard let first = p.utf8.first,
                  (first >= 0x30 && first <= 0x39) || (first >= 0x61 && first <= 0x7A) || (first >= 0x41 && first <= 0x5A),
                  p.utf8.allSatisfy({ c in
                      (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A)
                          || c == 0x2E || c == 0x5F || c == 0x2D || c == 0x3A || c == 0x40 || c == 0x2B
                  }), p.utf8.count <= 255 else {
                throw ImgsyncError(.invalidArgument, "invalid published name \"\(name)\": each /-separated part must start with a letter or digit and hold only letters, digits and . _ - : @ +")
            }
        }
        components = parts
    }

    public var description: String { components.joined(separator: "/") }
}
