import Foundation
import ImgsyncCore
import ImgsyncRegistry

/// The image list could not be read at all (missing file, HTTP failure, not text). Distinct from a
/// list with bad lines: a sync that gets this error must publish and remove nothing.
public struct ImageListUnreadable: Error, CustomStringConvertible, LocalizedError, Sendable {
    /// The file path or URL as given.
    public let location: String
    public let reason: String

    public init(location: String, reason: String) {
        self.location = location
        self.reason = reason
    }

    public var description: String { "cannot read the image list \(location): \(reason)" }
    public var errorDescription: String? { description }
}

extension ImageList {
    /// The largest list accepted, from a file or a URL.
    public static let sizeLimit = 4 << 20

    /// Reads and parses the list at `location`: an `https://` URL (fetched with `client`, or with a
    /// default client when nil) or a file path. Throws `ImageListUnreadable` when there is nothing to
    /// parse; bad lines are `issues` of the result, never errors.
    public static func load(_ location: String, client: RegistryClient?) async throws -> ImageList {
        let bytes: [UInt8]
        let lowered = location.lowercased()
        if lowered.hasPrefix("https://") {
            do {
                if let client {
                    bytes = try await client.fetchDocument(url: location, limit: sizeLimit)
                } else {
                    bytes = try await RegistryClient.withClient { try await $0.fetchDocument(url: location, limit: sizeLimit) }
                }
            } catch {
                throw ImageListUnreadable(location: location, reason: message(error))
            }
        } else if lowered.hasPrefix("http://") {
            throw ImageListUnreadable(location: location, reason: "plain http is not accepted; serve the list over https")
        } else {
            bytes = try readFile(location)
        }
        return try decode(bytes, source: location)
    }

    /// Parses fetched or read bytes; refuses what is clearly not a text list.
    static func decode(_ bytes: [UInt8], source: String) throws -> ImageList {
        if let nul = bytes.firstIndex(of: 0) {
            let line = bytes[..<nul].count { $0 == 0x0A } + 1
            throw ImageListUnreadable(location: source, reason: "it is not a text file (NUL byte on line \(line))")
        }
        // Invalid UTF-8 becomes U+FFFD, which the reference grammar then reports with its line.
        return parse(text: String(decoding: bytes, as: UTF8.self), source: source)
    }

    /// Reads a whole list file, at most `sizeLimit` bytes.
    static func readFile(_ path: String) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ImageListUnreadable(location: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw ImageListUnreadable(location: path, reason: "it is a directory") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ImageListUnreadable(location: path, reason: "it cannot be opened (permission denied?)")
        }
        defer { try? handle.close() }
        do {
            guard let data = try handle.read(upToCount: sizeLimit + 1) else { return [] }
            guard data.count <= sizeLimit else {
                throw ImageListUnreadable(location: path, reason: "it is larger than \(sizeLimit) bytes")
            }
            return Array(data)
        } catch let error as ImageListUnreadable {
            throw error
        } catch {
            throw ImageListUnreadable(location: path, reason: "\(error.localizedDescription)")
        }
    }
}
