import Foundation

/// The distribution-spec error body `{"errors":[{"code":…,"message":…}]}`.
struct RegistryErrorBody: Decodable {
    struct Entry: Decodable {
        var code: String?
        var message: String?
    }
    var errors: [Entry]?

    static func parse(_ body: [UInt8]) -> [Entry] {
        (try? JSONDecoder().decode(RegistryErrorBody.self, from: Data(body)))?.errors ?? []
    }

    /// The error codes in the body (`MANIFEST_UNKNOWN`, `NAME_UNKNOWN`, `DENIED`, …).
    static func codes(_ body: [UInt8]) -> [String] { parse(body).compactMap(\.code) }

    /// `": CODE: message"` from a JSON error body, or a short printable excerpt of any other body,
    /// or "" when the body is empty.
    static func summary(_ body: [UInt8]) -> String {
        let entries = parse(body)
        if !entries.isEmpty {
            let text = entries.prefix(3).map { e in
                [e.code, e.message].compactMap { $0 }.joined(separator: ": ")
            }.joined(separator: "; ")
            return ": " + String(text.prefix(300)).debugQuoted
        }
        let trimmed = String(decoding: body.prefix(200), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? "" : ": " + trimmed.debugQuoted
    }
}
