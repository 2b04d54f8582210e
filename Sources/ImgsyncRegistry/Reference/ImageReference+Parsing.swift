import ImgsyncCore

extension ImageReference {
    /// Parses and normalises a reference as a user writes it (`ubuntu`, `ghcr.io/a/b:1`,
    /// `localhost:5000/a@sha256:…`). Throws `.invalidReference` naming the input and the reason,
    /// `.invalidDigest` / `.unsupportedAlgorithm` for a bad digest.
    public init(parsing input: String) throws {
        func fail(_ why: String) -> ImgsyncError {
            ImgsyncError(.invalidReference, "invalid image reference \"\(input)\": \(why)")
        }
        guard !input.isEmpty else { throw fail("it is empty") }
        // Every scheme refused here ends in "://": only such input is lowercased and compared.
        let bytes = input.utf8
        if bytes.count >= 3, bytes.indices.contains(where: { i in
            bytes[i] == 0x3A && bytes[i...].starts(with: [0x3A, 0x2F, 0x2F])
        }) {
            let lowered = input.lowercased()
            for scheme in ["https://", "http://", "docker://", "oci://"] where lowered.hasPrefix(scheme) {
                throw fail("a reference has no URL scheme; drop \"\(input.prefix(scheme.count))\" and write \(input.dropFirst(scheme.count))")
            }
        }
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw fail("it contains spaces, control or non-ASCII characters")
        }
        // ASCII only from here: the UTF-8 view's indices are character boundaries, and scanning it
        // avoids the grapheme rules of `Character` searches.
        var rest = Substring(input)
        var digest: Digest?
        if let at = rest.utf8.firstIndex(of: 0x40) {
            digest = try RegistryDigest.parse(String(rest[rest.index(after: at)...]), what: "digest of \"\(input)\"")
            rest = rest[..<at]
        }
        // A tag is after the last ':' that follows the last '/'; a ':' before a '/' is a port.
        var tag: String?
        let lastSlash = rest.utf8.lastIndex(of: 0x2F)
        let tagSearchStart = lastSlash.map { rest.utf8.index(after: $0) } ?? rest.startIndex
        if let colon = rest[tagSearchStart...].utf8.lastIndex(of: 0x3A) {
            let t = String(rest[rest.utf8.index(after: colon)...])
            guard TagName.isValid(t) else {
                throw fail("tag \"\(t)\" must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
            }
            tag = t
            rest = rest[..<colon]
        }
        guard !rest.isEmpty else { throw fail("the repository name is missing") }

        var registry = ImageReference.dockerHub
        var repository = String(rest)
        if let slash = rest.utf8.firstIndex(of: 0x2F) {
            let first = rest[..<slash]
            let firstBytes = first.utf8
            if firstBytes.contains(0x2E) || firstBytes.contains(0x3A) || first == "localhost" || firstBytes.first == 0x5B {
                registry = String(first)
                repository = String(rest[rest.utf8.index(after: slash)...])
            }
        }
        registry = ImageReference.canonicalRegistry(registry)
        if registry == ImageReference.dockerHub && !repository.utf8.contains(0x2F) {
            repository = "library/" + repository
        }
        do {
            try self.init(registry: registry, repository: repository, tag: tag, digest: digest)
        } catch let error as ImgsyncError where error.code == .invalidReference || error.code == .invalidTag {
            throw ImgsyncError(.invalidReference, "invalid image reference \"\(input)\": \(error.message)")
        }
    }

    /// Repository grammar: `path-component ('/' path-component)*`, each `[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*`,
    /// at most 255 characters with the registry (distribution `<name>`).
    static func validateRepository(_ repository: String, in context: String) throws {
        guard !repository.isEmpty else {
            throw ImgsyncError(.invalidReference, "\(context): the repository name is empty")
        }
        guard context.utf8.count <= 255 else {
            throw ImgsyncError(.invalidReference, "\(context): the name is longer than 255 characters")
        }
        for component in repository.utf8.split(separator: 0x2F, omittingEmptySubsequences: false) {
            let bytes = Array(component)
            if bytes.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) {
                throw ImgsyncError(.invalidReference, "repository \"\(repository)\" must be lowercase")
            }
            guard isPathComponent(bytes) else {
                throw ImgsyncError(
                    .invalidReference,
                    "repository component \"\(String(decoding: bytes, as: UTF8.self))\" must match [a-z0-9]+(([._]|__|-+)[a-z0-9]+)*"
                )
            }
        }
    }

    private static func isPathComponent(_ b: [UInt8]) -> Bool {
        func alnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        guard let first = b.first, let last = b.last, alnum(first), alnum(last) else { return false }
        var i = 0
        while i < b.count {
            if alnum(b[i]) { i += 1; continue }
            // A separator run: "." or "_" or "__" or "-"+, always followed by an alphanumeric.
            var j = i
            if b[i] == 0x2E {
                j += 1
            } else if b[i] == 0x5F {
                j += 1
                if j < b.count && b[j] == 0x5F { j += 1 }
            } else if b[i] == 0x2D {
                while j < b.count && b[j] == 0x2D { j += 1 }
            } else {
                return false
            }
            guard j < b.count, alnum(b[j]) else { return false }
            i = j
        }
        return true
    }

    /// Registry grammar: a DNS name or IPv4 address, or a bracketed IPv6 address, with an optional port.
    static func validateRegistry(_ registry: String, in context: String) throws {
        func fail(_ why: String) -> ImgsyncError {
            ImgsyncError(.invalidReference, "\(context): registry \"\(registry)\" \(why)")
        }
        var host = Substring(registry)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw fail("has an unclosed IPv6 bracket") }
            let inside = host[host.index(after: host.startIndex)..<close]
            guard !inside.isEmpty, inside.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw fail("is not a valid IPv6 address")
            }
            host = host[host.index(after: close)...]
            if host.isEmpty { return }
            guard host.first == ":" else { throw fail("has text after the IPv6 address") }
            try validatePort(host.dropFirst(), fail)
            return
        }
        if let colon = host.utf8.firstIndex(of: 0x3A) {
            try validatePort(host[host.utf8.index(after: colon)...], fail)
            host = host[..<colon]
        }
        guard !host.isEmpty else { throw fail("has no host name") }
        for label in host.utf8.split(separator: 0x2E, omittingEmptySubsequences: false) {
            let b = Array(label)
            func ok(_ c: UInt8) -> Bool {
                (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39)
            }
            guard let f = b.first, let l = b.last, ok(f), ok(l), b.allSatisfy({ ok($0) || $0 == 0x2D }) else {
                throw fail("is not a valid host name")
            }
        }
    }

    private static func validatePort(_ port: Substring, _ fail: (String) -> ImgsyncError) throws {
        guard !port.isEmpty, port.count <= 5, port.allSatisfy({ $0.isASCII && $0.isNumber }),
              let n = Int(port), n > 0, n < 65536 else {
            throw fail("has an invalid port \"\(port)\"")
        }
    }
}
