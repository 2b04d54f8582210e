import ImgsyncCore
import ImgsyncRegistry

/// One usable line of the image list: a normalised reference, or a repository with a tag pattern.
public struct ImageListEntry: Sendable, Hashable {
    /// 1-based line number in the list.
    public let line: Int
    /// The reference as written on the line (`debian:12`, `gromacs/gromacs:*`).
    public let text: String
    /// The normalised reference. For a pattern entry only `registry` and `repository` mean anything:
    /// its tag is a placeholder (`latest`); the tags to publish come from `pattern` (see `ImageList.expand`).
    public let reference: ImageReference
    /// The tag pattern, for a line whose tag holds `*`, `?` or `[…]`.
    public let pattern: TagPattern?
    /// The platform given with `--platform` on the line, normalised (`linux/arm64/v8`), `any`
    /// (`Platform.anyKeyword`: a single-platform image is taken whatever its platform), several
    /// separated by commas (`linux/amd64,linux/arm64/v8`) or `all`, if any (see `PlatformRequest`).
    public let platform: String?

    public var isPattern: Bool { pattern != nil }

    /// The fully qualified form used to find duplicates and to match `imgsync remove`:
    /// `docker.io/library/debian:12`, `docker.io/gromacs/gromacs:*`, `ghcr.io/a/b@sha256:…`.
    public var normalized: String {
        if let pattern { return "\(reference.registry)/\(reference.repository):\(pattern.text)" }
        return reference.description
    }
}

/// A problem with one line of the list, shown as `file:line: message`.
public struct ImageListIssue: Sendable, Hashable, CustomStringConvertible {
    /// The list's file path or URL, as given.
    public let source: String
    /// 1-based line number.
    public let line: Int
    public let message: String
    /// Set by `expand` when the tags of this pattern entry could not be listed: its images are then
    /// unknown, not absent, so a sync should leave the names it published before alone.
    public let failedEntry: ImageListEntry?

    public init(source: String, line: Int, message: String, failedEntry: ImageListEntry? = nil) {
        self.source = source
        self.line = line
        self.message = message
        self.failedEntry = failedEntry
    }

    public var description: String { "\(source):\(line): \(message)" }
}

/// The image list (OSG `docker_images.txt` format): one reference a line, `#` comments, an optional
/// trailing ` # comment` and an optional `--platform os/arch[/variant][,…]` (or `any`, `all`) per line. See docs/image-list.md.
///
/// Parsing never fails as a whole: a bad line becomes an issue and the other lines still count.
/// Published-name collisions depend on the naming (registry kept or not) and on glob expansion, so
/// they are reported by `expand`, not here.
public struct ImageList: Sendable {
    /// The file path or URL the list came from.
    public let source: String
    /// The usable entries in line order. A repeated entry is kept once (its first line).
    public let entries: [ImageListEntry]
    /// Bad lines and repeated entries, in line order.
    public let issues: [ImageListIssue]
    /// Number of lines in the text (a final newline does not start another line).
    public let lineCount: Int

    /// Parses the text of a list. `source` names it in issues (`images.txt:12: …`).
    public static func parse(text: String, source: String) -> ImageList {
        var entries: [ImageListEntry] = []
        var issues: [ImageListIssue] = []
        var firstLine: [String: Int] = [:]
        let bytes = Array(text.utf8)
        let lines = ImageListLines.split(bytes)
        for (index, range) in lines.enumerated() {
            let number = index + 1
            let content = String(decoding: ImageListLines.content(bytes, range), as: UTF8.self)
            switch ImageListLine.parse(content) {
            case .blank:
                continue
            case .invalid(let message):
                issues.append(ImageListIssue(source: source, line: number, message: message))
            case .entry(let parsed):
                let entry = ImageListEntry(line: number, text: parsed.text, reference: parsed.reference,
                                           pattern: parsed.pattern, platform: parsed.platform)
                if let first = firstLine[entry.normalized] {
                    issues.append(ImageListIssue(
                        source: source, line: number,
                        message: "\(entry.normalized) is already listed on line \(first); this line is ignored"))
                    continue
                }
                firstLine[entry.normalized] = number
                entries.append(entry)
            }
        }
        return ImageList(source: source, entries: entries, issues: issues, lineCount: lines.count)
    }

    /// Parses one reference as a list line would hold it: a normalised reference and, when its tag
    /// holds glob characters, the tag pattern (the reference then carries the placeholder tag
    /// `latest`). Throws `ImgsyncError(.invalidReference)` naming the reference and the reason.
    public static func parseReference(_ text: String) throws -> (reference: ImageReference, pattern: TagPattern?) {
        try ImageListLine.parseReference(text)
    }

    /// The number of tag-pattern entries.
    public var patternCount: Int { entries.count { $0.isPattern } }
}

/// What one line of the list holds.
enum ImageListLine: Equatable {
    struct Parsed: Equatable {
        var text: String
        var reference: ImageReference
        var pattern: TagPattern?
        var platform: String?
    }

    case blank
    case entry(Parsed)
    case invalid(String)

    /// Parses one line (without its line terminator).
    static func parse(_ line: String) -> ImageListLine {
        var tokens: [Substring] = []
        for token in line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\u{0C}" || $0 == "\u{0B}" }) {
            if token.hasPrefix("#") { break }
            tokens.append(token)
        }
        guard let first = tokens.first else { return .blank }
        if first.hasPrefix("-") {
            return .invalid("expected an image reference at the start of the line, found \"\(first)\"")
        }
        var platform: String?
        var i = 1
        while i < tokens.count {
            let token = tokens[i]
            var value: Substring?
            if token == "--platform" {
                guard i + 1 < tokens.count else { return .invalid("--platform needs a value (os/arch[/variant][,…], any or all)") }
                value = tokens[i + 1]
                i += 2
            } else if token.hasPrefix("--platform=") {
                value = token.dropFirst("--platform=".count)
                i += 1
            } else {
                return .invalid("unexpected \"\(token)\" after the reference; only --platform os/arch[/variant] and a # comment may follow it")
            }
            guard platform == nil else { return .invalid("--platform is given twice") }
            do {
                platform = try PlatformRequest.normalised(String(value!))
            } catch let error as ImgsyncError {
                return .invalid(error.message)
            } catch {
                return .invalid("\(error)")
            }
        }
        do {
            let (reference, pattern) = try parseReference(String(first))
            return .entry(Parsed(text: String(first), reference: reference, pattern: pattern, platform: platform))
        } catch let error as ImgsyncError {
            return .invalid(error.message)
        } catch {
            return .invalid("\(error)")
        }
    }

    /// Parses a reference whose tag may be a pattern. A pattern is split off before the rest is parsed
    /// by `ImageReference(parsing:)` (whose tag grammar rejects glob characters); the returned
    /// reference then carries the placeholder tag `latest`.
    static func parseReference(_ text: String) throws -> (ImageReference, TagPattern?) {
        // Found in the UTF-8 view (ASCII delimiters), not by `Character` searches, which were most
        // of the cost of reading a long list.
        let nameAndTag = text[..<(text.utf8.firstIndex(of: 0x40) ?? text.endIndex)]
        let afterSlash = nameAndTag.utf8.lastIndex(of: 0x2F).map { nameAndTag.utf8.index(after: $0) } ?? nameAndTag.startIndex
        guard let colon = nameAndTag[afterSlash...].utf8.firstIndex(of: 0x3A) else {
            return (try ImageReference(parsing: text), nil)
        }
        let tag = String(nameAndTag[nameAndTag.utf8.index(after: colon)...])
        guard TagPattern.isPattern(tag) else { return (try ImageReference(parsing: text), nil) }
        guard nameAndTag.endIndex == text.endIndex else {
            throw ImgsyncError(.invalidReference, "invalid image reference \"\(text)\": a tag pattern cannot be combined with a digest")
        }
        let pattern: TagPattern
        do {
            pattern = try TagPattern(tag)
        } catch let error as ImgsyncError {
            throw ImgsyncError(.invalidReference, "invalid image reference \"\(text)\": \(error.message)")
        }
        let reference = try ImageReference(parsing: String(nameAndTag[..<colon]))
        return (reference, pattern)
    }
}

/// Line splitting that keeps every byte: a line ends at `\n` (a `\r` before it stays in the line and
/// is whitespace to the parser).
enum ImageListLines {
    /// Each line's range including its terminator. A final newline does not start another line.
    static func split(_ bytes: [UInt8]) -> [Range<Int>] {
        var lines: [Range<Int>] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == 0x0A {
            lines.append(start..<(i + 1))
            start = i + 1
        }
        if start < bytes.count { lines.append(start..<bytes.count) }
        return lines
    }

    /// The bytes of a line without its `\n`.
    static func content(_ bytes: [UInt8], _ range: Range<Int>) -> ArraySlice<UInt8> {
        let line = bytes[range]
        return line.last == 0x0A ? line.dropLast() : line
    }
}
