import Foundation
import NIOHTTP1

/// Parsers for the response headers the client acts on. All are total: bad input gives nil.
enum HeaderParsing {
    /// `Retry-After`: delta-seconds or an HTTP-date (R43). Negative or past dates give 0.
    static func retryAfter(_ value: String?, now: Date) -> TimeInterval? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if value.allSatisfy({ $0.isASCII && $0.isNumber }) {
            return value.count > 9 ? 999_999_999 : TimeInterval(Int(value) ?? 0)
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: value) { return max(0, date.timeIntervalSince(now)) }
        }
        return nil
    }

    /// The requests a registry says are left: `RateLimit-Remaining` (Docker Hub sends
    /// `ratelimit-remaining: 76;w=21600`, the count then the window) or `X-RateLimit-Remaining`,
    /// else the IETF draft's single `RateLimit` field: `"default";r=0;t=30` (a list of quota
    /// policies, `r` the requests left in each) or the older `limit=100, remaining=0, reset=30`.
    /// With several policies the smallest count counts. `header` is the header as received, for
    /// messages. A value that is not a count gives nil.
    static func rateLimitRemaining(_ headers: HTTPHeaders) -> (count: Int, header: String)? {
        for name in ["RateLimit-Remaining", "X-RateLimit-Remaining"] {
            guard let value = headers.first(name: name) else { continue }
            let first = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)[0]
            guard let n = count(first) else { continue }
            return (n, "\(name.lowercased()): \(value)")
        }
        guard let value = headers.first(name: "RateLimit"), value.count <= 4096 else { return nil }
        var least: Int?
        // List members (policies) or dictionary members, then each one's parameters.
        for member in value.split(separator: ",") {
            for part in member.split(separator: ";") {
                let pair = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard pair.count == 2 else { continue }
                let key = pair[0].trimmingCharacters(in: .whitespaces).lowercased()
                guard key == "r" || key == "remaining", let n = count(pair[1]) else { continue }
                least = min(least ?? n, n)
            }
        }
        return least.map { ($0, "ratelimit: \(value)") }
    }

    /// A non-negative decimal count of at most 18 digits, spaces around allowed.
    private static func count(_ text: Substring) -> Int? {
        let digits = text.trimmingCharacters(in: .whitespaces)
        guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    /// A `Content-Range: bytes first-last/complete` of a 206 (R33, R35). `complete` is nil for `*`.
    struct ContentRange: Equatable {
        var first: Int64
        var last: Int64
        var complete: Int64?
    }

    static func contentRange(_ value: String?) -> ContentRange? {
        guard var s = value?.trimmingCharacters(in: .whitespaces) else { return nil }
        guard s.lowercased().hasPrefix("bytes ") else { return nil }
        s = String(s.dropFirst(6)).trimmingCharacters(in: .whitespaces)
        let halves = s.split(separator: "/", omittingEmptySubsequences: false)
        guard halves.count == 2 else { return nil }
        let range = halves[0].split(separator: "-", omittingEmptySubsequences: false)
        guard range.count == 2, let first = Int64(range[0]), let last = Int64(range[1]), first >= 0, last >= first else {
            return nil
        }
        if halves[1] == "*" { return ContentRange(first: first, last: last, complete: nil) }
        guard let complete = Int64(halves[1]), complete > last else { return nil }
        return ContentRange(first: first, last: last, complete: complete)
    }

    /// The `rel="next"` target of a `Link` header (RFC 8288), unresolved (R47).
    static func nextLink(_ values: [String]) -> String? {
        for value in values {
            // A header may carry several comma-separated links; URLs are in <...>.
            var rest = Substring(value)
            while let open = rest.firstIndex(of: "<") {
                guard let close = rest[open...].firstIndex(of: ">") else { return nil }
                let target = String(rest[rest.index(after: open)..<close])
                var params = rest[rest.index(after: close)...]
                if let nextLink = params.firstIndex(of: "<") {
                    rest = params[nextLink...]
                    params = params[..<nextLink]
                } else {
                    rest = ""
                }
                let attributes = params.split(separator: ";").map {
                    $0.trimmingCharacters(in: CharacterSet(charactersIn: " \t,")).lowercased()
                }
                for attribute in attributes where attribute.hasPrefix("rel=") {
                    let rel = attribute.dropFirst(4).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                    if rel.split(separator: " ").contains("next") { return target }
                }
            }
        }
        return nil
    }

    /// The text of a `Warning: 299 - "text"` header (dist-spec Warnings, R52). Other codes and
    /// malformed values give nil.
    static func warning(_ value: String) -> String? {
        let s = value.trimmingCharacters(in: .whitespaces)
        guard s.hasPrefix("299 ") else { return nil }
        var rest = s.dropFirst(4).drop { $0 == " " }
        guard let agentEnd = rest.firstIndex(of: " ") else { return nil }
        rest = rest[agentEnd...].drop { $0 == " " }
        guard rest.first == "\"" else { return nil }
        var text = ""
        var escaped = false
        for c in rest.dropFirst() {
            if escaped { text.append(c); escaped = false; continue }
            if c == "\\" { escaped = true; continue }
            if c == "\"" { return text }
            text.append(c)
        }
        return nil
    }
}
