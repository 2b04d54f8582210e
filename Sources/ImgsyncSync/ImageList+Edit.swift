#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import ImgsyncCore
import ImgsyncRegistry

/// Why `imgsync add` or `remove` refused a change.
public struct ImageListEditError: Error, CustomStringConvertible, LocalizedError, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The reference (or platform) is not valid list syntax.
        case invalidEntry
        /// The same normalised reference is already listed.
        case duplicate
        /// Another listed reference already publishes under the same name.
        case collision
        /// `remove`: nothing listed matches.
        case notListed
    }

    public let kind: Kind
    public let message: String

    public var description: String { message }
    public var errorDescription: String? { message }
}

/// The list as bytes, edited line by line so that every byte outside the inserted or removed line
/// stays as it was: comments, blank lines, spacing, CRLF endings, even lines that do not parse.
public struct ImageListDocument: Sendable {
    /// The file path, as used in messages.
    public let source: String
    public private(set) var bytes: [UInt8]

    public init(bytes: [UInt8], source: String) {
        self.bytes = bytes
        self.source = source
    }

    /// Reads a list file, or with `createIfMissing` starts an empty one when nothing is at `path`
    /// yet (`imgsync add` into a new list; the directory must exist). `ImageListUnreadable` when it
    /// cannot be read or is not text.
    public static func read(_ path: String, createIfMissing: Bool) throws -> ImageListDocument {
        var st = stat()
        if createIfMissing && lstat(path, &st) != 0 && errno == ENOENT {
            let directory = (path as NSString).deletingLastPathComponent
            guard directory.isEmpty || FileManager.default.fileExists(atPath: directory) else {
                throw ImageListUnreadable(location: path, reason: "its directory \(directory) does not exist")
            }
            return ImageListDocument(bytes: [], source: path)
        }
        return try read(path)
    }

    /// Reads a list file (`ImageListUnreadable` when it cannot be read or is not text).
    public static func read(_ path: String) throws -> ImageListDocument {
        let bytes = try ImageList.readFile(path)
        _ = try ImageList.decode(bytes, source: path)
        return ImageListDocument(bytes: bytes, source: path)
    }

    /// The parsed list.
    public var list: ImageList { ImageList.parse(text: String(decoding: bytes, as: UTF8.self), source: source) }

    /// Inserts `reference` (written as given, plus ` --platform P` when `platform` is set) and returns
    /// the new entry with its line number.
    ///
    /// Where: after the last line of the same repository (another tag of it), else after the last
    /// line of the same organisation on the same registry (`hub.opensciencegrid.org/htc/…`,
    /// `library/…` for Docker Hub's official images), else at the end of the file. That keeps the
    /// maintainers' grouping under their section comments. The new line uses the neighbouring
    /// line's ending (`\n` or `\r\n`).
    ///
    /// Refuses (`ImageListEditError`) an invalid reference, one whose normalised form is already
    /// listed (`debian` when `docker.io/library/debian:latest` is), and a concrete reference that would
    /// publish under the same name as a listed one (with `keepRegistry` as the sync will use it).
    @discardableResult
    public mutating func insert(_ reference: String, platform: String? = nil, keepRegistry: Bool = false) throws -> ImageListEntry {
        guard !reference.isEmpty, !reference.contains(where: { $0.isWhitespace || $0 == "#" }) else {
            throw ImageListEditError(kind: .invalidEntry, message: "invalid image reference \"\(reference)\": it must be one word without spaces or #")
        }
        let text = reference + (platform.map { " --platform \($0)" } ?? "")
        guard case .entry(let new) = ImageListLine.parse(text) else {
            if case .invalid(let message) = ImageListLine.parse(text) {
                throw ImageListEditError(kind: .invalidEntry, message: message)
            }
            throw ImageListEditError(kind: .invalidEntry, message: "invalid image reference \"\(reference)\"")
        }
        let newEntry = ImageListEntry(line: 0, text: new.text, reference: new.reference, pattern: new.pattern, platform: new.platform)
        let lines = ImageListLines.split(bytes)
        let existing = parsedLines(lines)

        for (index, entry) in existing where entry.normalized == newEntry.normalized {
            throw ImageListEditError(kind: .duplicate, message: "\(newEntry.normalized) is already listed at \(source):\(index + 1) (\(entry.text))")
        }
        if !newEntry.isPattern, let name = try? newEntry.reference.publishedName(keepRegistry: keepRegistry) {
            for (index, entry) in existing where !entry.isPattern {
                if (try? entry.reference.publishedName(keepRegistry: keepRegistry)) == name {
                    throw ImageListEditError(kind: .collision, message: "\(newEntry.normalized) would publish as \(name), which \(source):\(index + 1) (\(entry.text)) already publishes")
                }
            }
        }

        let sameRepository = existing.last {
            $0.1.reference.registry == new.reference.registry && $0.1.reference.repository == new.reference.repository
        }
        let sameOrganisation = existing.last {
            $0.1.reference.registry == new.reference.registry && Self.organisation($0.1.reference) == Self.organisation(new.reference)
        }
        let insertAt: Int
        let newline: [UInt8]
        var prefix: [UInt8] = []
        if let anchor = (sameRepository ?? sameOrganisation)?.0 {
            let range = lines[anchor]
            insertAt = range.upperBound
            newline = Self.terminator(of: bytes[range]) ?? Self.terminator(in: bytes, lines)
            if bytes[range].last != 0x0A { prefix = newline }
            insertLine(prefix + Array(text.utf8) + newline, at: insertAt)
            return ImageListEntry(line: anchor + 2, text: new.text, reference: new.reference, pattern: new.pattern, platform: new.platform)
        }
        newline = Self.terminator(in: bytes, lines)
        if let last = bytes.last, last != 0x0A { prefix = newline }
        insertAt = bytes.count
        insertLine(prefix + Array(text.utf8) + newline, at: insertAt)
        return ImageListEntry(line: lines.count + 1, text: new.text, reference: new.reference, pattern: new.pattern, platform: new.platform)
    }

    /// Removes every line whose reference normalises to the same as `reference` (`debian` removes
    /// `docker.io/library/debian:latest`; a pattern matches the same pattern), whatever its platform.
    /// Comments, including those right above the line, stay. Returns the removed entries (with their
    /// old line numbers). Throws `.notListed` naming the repository's listed lines when none matches.
    @discardableResult
    public mutating func remove(_ reference: String) throws -> [ImageListEntry] {
        let parsed: (ImageReference, TagPattern?)
        do {
            parsed = try ImageListLine.parseReference(reference)
        } catch let error as ImgsyncError {
            throw ImageListEditError(kind: .invalidEntry, message: error.message)
        }
        let key = ImageListEntry(line: 0, text: reference, reference: parsed.0, pattern: parsed.1, platform: nil).normalized
        let lines = ImageListLines.split(bytes)
        let existing = parsedLines(lines)
        let matches = existing.filter { $0.1.normalized == key }
        guard !matches.isEmpty else {
            let related = existing.filter { $0.1.reference.registry == parsed.0.registry && $0.1.reference.repository == parsed.0.repository }
            let hint = related.isEmpty
                ? "" : "; listed from \(parsed.0.name): " + related.map { "line \($0.0 + 1) (\($0.1.text))" }.joined(separator: ", ")
            throw ImageListEditError(kind: .notListed, message: "\(key) is not listed in \(source)\(hint)")
        }
        for (index, _) in matches.reversed() {
            bytes.removeSubrange(lines[index])
        }
        return matches.map { $0.1 }
    }

    /// Writes the document to `path` atomically (see `ImageListFile.replace`).
    public func write(to path: String) throws {
        try ImageListFile.replace(path, with: bytes)
    }

    private mutating func insertLine(_ line: [UInt8], at offset: Int) {
        bytes.insert(contentsOf: line, at: offset)
    }

    /// Every parsable line as (0-based index, entry with its 1-based line number).
    private func parsedLines(_ lines: [Range<Int>]) -> [(Int, ImageListEntry)] {
        lines.enumerated().compactMap { index, range in
            let content = String(decoding: ImageListLines.content(bytes, range), as: UTF8.self)
            guard case .entry(let p) = ImageListLine.parse(content) else { return nil }
            return (index, ImageListEntry(line: index + 1, text: p.text, reference: p.reference, pattern: p.pattern, platform: p.platform))
        }
    }

    /// `library` for `docker.io/library/debian`, `htc` for `hub.opensciencegrid.org/htc/rocky`.
    static func organisation(_ reference: ImageReference) -> Substring {
        reference.repository.split(separator: "/").first ?? Substring(reference.repository)
    }

    static func terminator(of line: ArraySlice<UInt8>) -> [UInt8]? {
        guard line.last == 0x0A else { return nil }
        return line.dropLast().last == 0x0D ? [0x0D, 0x0A] : [0x0A]
    }

    /// The first line's ending, else `\n`.
    static func terminator(in bytes: [UInt8], _ lines: [Range<Int>]) -> [UInt8] {
        lines.lazy.compactMap { terminator(of: bytes[$0]) }.first ?? [0x0A]
    }
}

/// Replacing a list file so that readers (a running sync, an editor) see the old or the new
/// content, never a mix.
public enum ImageListFile {
    /// Writes `bytes` to a temporary file next to `path` (after resolving symlinks, so a linked list
    /// stays linked), with the old file's permission bits (0644 for a new file), fsyncs it and renames
    /// it over `path`. On failure the temporary file is removed and `path` is untouched.
    public static func replace(_ path: String, with bytes: [UInt8]) throws {
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let directory = (target as NSString).deletingLastPathComponent
        let base = (target as NSString).lastPathComponent
        let temporary = (directory.isEmpty ? "." : directory) + "/.\(base).imgsync-\(UInt32.random(in: 0...UInt32.max))"
        var info = stat()
        let mode: mode_t = stat(target, &info) == 0 ? info.st_mode & 0o7777 : 0o644
        func failure(_ what: String) -> ImgsyncError {
            let e = errno
            return ImgsyncError(.io, "cannot \(what) \(temporary) to replace \(path): \(String(cString: strerror(e)))", errno: e)
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw failure("create") }
        var closed = false
        defer {
            if !closed { close(fd) }
        }
        do {
            guard fchmod(fd, mode) == 0 else { throw failure("chmod") }
            var written = 0
            while written < bytes.count {
                let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw failure("write")
                }
                written += n
            }
            guard fsync(fd) == 0 else { throw failure("fsync") }
            closed = true
            guard close(fd) == 0 else { throw failure("close") }
            guard rename(temporary, target) == 0 else { throw failure("rename") }
        } catch {
            unlink(temporary)
            throw error
        }
    }
}
