import ImgsyncCore

/// One challenge from a `WWW-Authenticate` header (RFC 7235): a scheme and its parameters.
public struct AuthChallenge: Hashable, Sendable {
    public enum Scheme: String, Hashable, Sendable {
        case bearer = "Bearer"
        case basic = "Basic"
    }

    public let scheme: Scheme
    /// Parameter names are lowercased; values are unquoted and unescaped.
    public let parameters: [String: String]

    public init(scheme: Scheme, parameters: [String: String]) {
        self.scheme = scheme
        self.parameters = parameters
    }

    public var realm: String? { parameters["realm"] }
    public var service: String? { parameters["service"] }
    /// The scopes asked for, split at spaces (`scope` may hold several, R6).
    public var scopes: [String] {
        (parameters["scope"] ?? "").split(separator: " ").map(String.init)
    }
    /// The `error` parameter: `invalid_token`, `insufficient_scope`, …
    public var error: String? { parameters["error"] }

    /// Parses every `WWW-Authenticate` header of a response and picks the challenge to answer:
    /// Bearer over Basic (R12). Unknown schemes are ignored. A Bearer challenge needs a realm.
    /// Throws `.authChallenge` when a header is malformed or no usable challenge is left; nothing is
    /// guessed, so no request ever goes to a made-up URL.
    public static func select(fromHeaders headers: [String], registry: String) throws -> AuthChallenge {
        var all: [AuthChallenge] = []
        for header in headers {
            all += try parse(header, registry: registry)
        }
        if let bearer = all.first(where: { $0.scheme == .bearer }) {
            guard let realm = bearer.realm, !realm.isEmpty else {
                throw ImgsyncError(.authChallenge, "\(registry) sent a Bearer challenge without a realm")
            }
            return bearer
        }
        if let basic = all.first(where: { $0.scheme == .basic }) { return basic }
        throw ImgsyncError(
            .authChallenge,
            "\(registry) asks for authentication but offers no Bearer or Basic challenge (WWW-Authenticate: \(headers.joined(separator: " | ").debugQuoted))"
        )
    }

    /// Parses one header value into its challenges, in order; unknown schemes are dropped.
    /// Syntax: `challenge *( "," challenge )`, `challenge = scheme [ SP param *( "," param ) ]`,
    /// `param = token "=" ( token / quoted-string )`, case-insensitive scheme and names (R11).
    public static func parse(_ header: String, registry: String) throws -> [AuthChallenge] {
        var scanner = ChallengeScanner(Array(header.utf8))
        var result: [AuthChallenge] = []
        var current: (scheme: String, params: [String: String])?
        func flush() {
            if let c = current, let scheme = Scheme(caseInsensitive: c.scheme) {
                result.append(AuthChallenge(scheme: scheme, parameters: c.params))
            }
            current = nil
        }
        func malformed(_ why: String) -> ImgsyncError {
            ImgsyncError(.authChallenge, "malformed WWW-Authenticate from \(registry) (\(why)): \(header.debugQuoted)")
        }
        while true {
            scanner.skip { $0 == 0x20 || $0 == 0x09 || $0 == 0x2C }
            if scanner.atEnd { break }
            guard let token = scanner.token() else { throw malformed("unexpected character") }
            scanner.skip { $0 == 0x20 || $0 == 0x09 }
            if scanner.peek == 0x3D, current != nil {
                // `name = value`, a parameter of the current challenge.
                scanner.advance()
                scanner.skip { $0 == 0x20 || $0 == 0x09 }
                let value: String
                if scanner.peek == 0x22 {
                    guard let quoted = scanner.quotedString() else { throw malformed("unterminated quoted string or dangling escape") }
                    value = quoted
                } else {
                    guard let bare = scanner.token68() else { throw malformed("parameter \(token) has no value") }
                    value = bare
                }
                current!.params[token.lowercased()] = value
            } else if scanner.peek == 0x3D {
                throw malformed("parameter before any scheme")
            } else {
                // A new challenge (scheme). Its first parameter follows after whitespace.
                flush()
                current = (token, [:])
            }
            scanner.skip { $0 == 0x20 || $0 == 0x09 }
            guard scanner.atEnd || scanner.peek == 0x2C || isTokenChar(scanner.peek ?? 0) else {
                throw malformed("unexpected text after a value")
            }
        }
        flush()
        return result
    }
}

extension AuthChallenge.Scheme {
    init?(caseInsensitive name: String) {
        switch name.lowercased() {
        case "bearer": self = .bearer
        case "basic": self = .basic
        default: return nil
        }
    }
}

private func isTokenChar(_ c: UInt8) -> Bool {
    // RFC 7230 tchar
    if (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) { return true }
    return Array("!#$%&'*+-.^_`|~".utf8).contains(c)
}

/// A byte cursor over one header value.
private struct ChallengeScanner {
    let bytes: [UInt8]
    var index = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[index] }
    mutating func advance() { index += 1 }

    mutating func skip(while predicate: (UInt8) -> Bool) {
        while let c = peek, predicate(c) { index += 1 }
    }

    mutating func token() -> String? {
        let start = index
        skip(while: isTokenChar)
        return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
    }

    /// An unquoted value: token characters plus `/`, `:` and `=` so that unquoted URLs and token68
    /// values (`realm=https://a/t`) read as one value.
    mutating func token68() -> String? {
        let start = index
        skip { isTokenChar($0) || $0 == 0x2F || $0 == 0x3A || $0 == 0x3D || $0 == 0x3F || $0 == 0x40 }
        return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
    }

    /// A quoted-string with `\` escapes. nil when the closing quote is missing or an escape dangles.
    mutating func quotedString() -> String? {
        guard peek == 0x22 else { return nil }
        index += 1
        var out: [UInt8] = []
        while let c = peek {
            index += 1
            switch c {
            case 0x22:
                return String(decoding: out, as: UTF8.self)
            case 0x5C:
                guard let escaped = peek else { return nil }
                index += 1
                out.append(escaped)
            default:
                out.append(c)
            }
        }
        return nil
    }
}

extension String {
    /// The string in double quotes with control and non-ASCII characters escaped, for error messages
    /// that show text a server sent.
    var debugQuoted: String {
        var out = "\""
        for scalar in unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case " "..."~": out.unicodeScalars.append(scalar)
            default: out += "\\u{\(String(scalar.value, radix: 16))}"
            }
        }
        return out + "\""
    }
}
