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

extension PublishedName {
    /// The name a platform's tree of a multi-platform list line is published under:
    /// `<name>@<suffix>`, e.g. `org/image:1.0@linux-arm64-v8` (docs/image-list.md, "Several
    /// platforms"). `suffix` is `Platform.pathSuffix`: ASCII lowercase letters, digits, `.`, `_`
    /// and `-`.
    public func platformName(_ suffix: String) throws -> PublishedName {
        guard PublishedName.isPlatformSuffix(suffix) else {
            throw ImgsyncError(.invalidArgument, "invalid platform suffix \"\(suffix)\" for \(self)")
        }
        return try PublishedName("\(self)@\(suffix)")
    }

    /// For a platform name (`org/image:1.0@linux-arm64-v8`), the plain name it belongs to and the
    /// suffix; nil for any other name. Unambiguous: a tag or repository never holds `@`, and the
    /// part after a digest's `@` holds a `:`, which a suffix never does.
    public var platformOf: (name: String, suffix: String)? {
        let text = description
        let last = text.lastIndex(of: "/").map { text.index(after: $0) } ?? text.startIndex
        guard let at = text[last...].lastIndex(of: "@") else { return nil }
        let suffix = String(text[text.index(after: at)...])
        guard PublishedName.isPlatformSuffix(suffix), text[last..<at].contains(":") else { return nil }
        return (String(text[..<at]), suffix)
    }

    static func isPlatformSuffix(_ suffix: String) -> Bool {
        suffix.utf8.first.map { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) } ?? false
            && suffix.utf8.allSatisfy { c in (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x2D }
    }
}

/// CVMFS variant symlinks (`--cvmfs-variant-symlinks`, docs/image-list.md): the plain name of a
/// multi-platform line becomes a symlink whose text is `<basename>@$(CVMFS_ARCH:-<machine>)`. A
/// CVMFS client expands the variable to its `uname -m`, so the link leads to the sibling alias
/// `<basename>@<machine>` of the worker node's architecture. Outside CVMFS the text is taken
/// literally and resolves to nothing: imgsync reads the default instead (`Repository.imageID(of:)`).
public enum CVMFSVariantLink {
    /// The symlink text for a name whose last component is `basename`, defaulting to `machine`.
    public static func text(basename: String, defaultMachine machine: String) -> String {
        "\(basename)@$(CVMFS_ARCH:-\(machine))"
    }

    /// The default machine of a variant symlink text of a name whose last component is `basename`;
    /// nil for any other text (an ordinary link into `.images/`).
    public static func defaultMachine(text: String, basename: String) -> String? {
        let head = "\(basename)@$(CVMFS_ARCH:-"
        guard text.hasPrefix(head), text.hasSuffix(")") else { return nil }
        let machine = String(text.dropFirst(head.count).dropLast())
        return PublishedName.isPlatformSuffix(machine) && !machine.contains("-") ? machine : nil
    }
}

extension PublishedName {
    /// The alias a variant symlink leads to: `<name>@<machine>` (`org/tool:2.0@x86_64`).
    public func machineAlias(_ machine: String) throws -> PublishedName {
        try platformName(machine)
    }

    /// Whether this is a machine alias (`@x86_64`, `@aarch64`): a platform-like suffix without `-`
    /// (a platform name's suffix is `<os>-<arch>…`).
    public var isMachineAlias: Bool {
        platformOf.map { !$0.suffix.contains("-") } ?? false
    }
}
