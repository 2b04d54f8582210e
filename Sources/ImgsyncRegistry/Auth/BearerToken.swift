import Foundation
import ImgsyncCore

/// A token from a token server (token.md / oauth.md), with the moment it stops being usable.
public struct BearerToken: Sendable, Equatable {
    public let token: String
    /// An OAuth2 refresh token, when the server returned one (`access_type=offline`).
    public let refreshToken: String?
    /// When the token expires: `issued_at + expires_in` (or end of exchange + expires_in).
    public let expiresAt: Date

    /// Tokens that live shorter than this are treated as living this long (token.md default,
    /// distribution's `minimumTokenLifetimeSeconds`).
    public static let minimumLifetime: TimeInterval = 60

    public init(token: String, refreshToken: String? = nil, expiresAt: Date) {
        self.token = token
        self.refreshToken = refreshToken
        self.expiresAt = expiresAt
    }

    public func isExpired(at now: Date) -> Bool { now >= expiresAt }

    /// Parses a token response body (R3, R4). `token` is preferred over `access_token`; a body with
    /// neither, or one that is not JSON, is `.auth` "token server returned no token". `now` is the end of
    /// the exchange; it is used when `issued_at` is missing, and caps an `issued_at` in the future.
    public static func parse(_ body: [UInt8], now: Date, realm: String) throws -> BearerToken {
        struct Wire: Decodable {
            var token: String?
            var access_token: String?
            var refresh_token: String?
            var expires_in: Double?
            var issued_at: String?
        }
        let noToken = ImgsyncError(.auth, "token server \(realm) returned no token")
        guard let wire = try? JSONDecoder().decode(Wire.self, from: Data(body)) else { throw noToken }
        let value = [wire.token, wire.access_token].compactMap { $0 }.first { !$0.isEmpty }
        guard let value else { throw noToken }
        var lifetime = wire.expires_in ?? minimumLifetime
        if !(lifetime >= minimumLifetime) { lifetime = minimumLifetime }  // also catches NaN
        var issued = now
        if let text = wire.issued_at, let date = parseRFC3339(text), date < now {
            issued = date
        }
        return BearerToken(
            token: value,
            refreshToken: wire.refresh_token.flatMap { $0.isEmpty ? nil : $0 },
            expiresAt: issued.addingTimeInterval(lifetime)
        )
    }

    /// RFC 3339 timestamps, with or without fractional seconds.
    static func parseRFC3339(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        if let d = plain.date(from: text) { return d }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }
}

/// A token scope, `type:name:actions` (scope.md). The name may contain one `:` (a registry port),
/// so the type is before the first colon and the actions after the last (R11).
public struct TokenScope: Hashable, Sendable, CustomStringConvertible {
    public let type: String
    public let name: String
    public let actions: [String]

    public init(type: String = "repository", name: String, actions: [String] = ["pull"]) {
        self.type = type
        self.name = name
        self.actions = actions
    }

    public init?(parsing text: String) {
        guard let first = text.firstIndex(of: ":"), let last = text.lastIndex(of: ":"), first < last else {
            return nil
        }
        let type = String(text[..<first])
        let name = String(text[text.index(after: first)..<last])
        let actions = text[text.index(after: last)...].split(separator: ",").map(String.init)
        guard !type.isEmpty, !name.isEmpty, !actions.isEmpty else { return nil }
        self.init(type: type, name: name, actions: actions)
    }

    public static func pull(_ repository: String) -> TokenScope { TokenScope(name: repository) }

    public var description: String { "\(type):\(name):\(actions.joined(separator: ","))" }
}
