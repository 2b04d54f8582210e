import Foundation

/// The one error type of imgsync's core. `code` is the class a caller can match on (the ERROR classes of
/// docs/conformance.md §0), `message` says what was wrong and what to do, and the context fields name
/// the layer blob and the tar entry so an operator can find the offending input.
public struct ImgsyncError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: String, Sendable, CaseIterable {
            case traversal, rootType = "root-type", invalidWhiteout = "invalid-whiteout"
            case hardlinkTarget = "hardlink-target", hardlinkDir = "hardlink-dir", loop
            case tarFormat = "tar-format", truncated, decompress, mediaType = "media-type"
            case unsupportedMediaType = "unsupported-media-type", limit, nameTooLong = "name-too-long"
            case digestMismatch = "digest-mismatch", sizeMismatch = "size-mismatch", invalidDigest = "invalid-digest"
            case io, invalidArgument = "invalid-argument", catalog, corruptObject = "corrupt-object", busy
            // Registry client (docs/conformance.md §3).
            case notFound = "not-found", denied, auth, authChallenge = "auth-challenge"
            case rateLimited = "rate-limited", server, tls, network, timeout
            case invalidReference = "invalid-reference", invalidTag = "invalid-tag"
            case unsupportedAlgorithm = "unsupported-algorithm", notARegistry = "not-a-registry"
            case manifest, manifestMediaTypeMismatch = "manifest-media-type-mismatch"
            case ambiguousManifest = "ambiguous-manifest", unsupportedSchema1 = "unsupported-schema1"
            case notAContainerImage = "not-a-container-image", noMatchingPlatform = "no-matching-platform"
            case insecureRedirect = "insecure-redirect", tooManyRedirects = "too-many-redirects"
            case forbiddenTarget = "forbidden-target", foreignAuth = "foreign-auth"
            case paginationLoop = "pagination-loop", credentials, config
            case budgetSpent = "budget-spent"
        }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }
        public var description: String { kind.rawValue }
        /// The code whose `description` is `name` (e.g. from another process's report).
        public init?(name: String) {
            guard let kind = Kind(rawValue: name) else { return nil }
            self.kind = kind
        }
        /// Every code, in declaration order.
        public static var all: [Code] { Kind.allCases.map(Code.init) }

        public static let traversal = Code(.traversal)
        public static let rootType = Code(.rootType)
        public static let invalidWhiteout = Code(.invalidWhiteout)
        public static let hardlinkTarget = Code(.hardlinkTarget)
        public static let hardlinkDir = Code(.hardlinkDir)
        public static let loop = Code(.loop)
        public static let tarFormat = Code(.tarFormat)
        public static let truncated = Code(.truncated)
        public static let decompress = Code(.decompress)
        public static let mediaType = Code(.mediaType)
        public static let unsupportedMediaType = Code(.unsupportedMediaType)
        public static let limit = Code(.limit)
        public static let nameTooLong = Code(.nameTooLong)
        public static let digestMismatch = Code(.digestMismatch)
        public static let sizeMismatch = Code(.sizeMismatch)
        public static let invalidDigest = Code(.invalidDigest)
        public static let io = Code(.io)
        public static let invalidArgument = Code(.invalidArgument)
        public static let catalog = Code(.catalog)
        public static let corruptObject = Code(.corruptObject)
        public static let busy = Code(.busy)
        public static let notFound = Code(.notFound)
        public static let denied = Code(.denied)
        public static let auth = Code(.auth)
        public static let authChallenge = Code(.authChallenge)
        public static let rateLimited = Code(.rateLimited)
        public static let server = Code(.server)
        public static let tls = Code(.tls)
        public static let network = Code(.network)
        public static let timeout = Code(.timeout)
        public static let invalidReference = Code(.invalidReference)
        public static let invalidTag = Code(.invalidTag)
        public static let unsupportedAlgorithm = Code(.unsupportedAlgorithm)
        public static let notARegistry = Code(.notARegistry)
        public static let manifest = Code(.manifest)
        public static let manifestMediaTypeMismatch = Code(.manifestMediaTypeMismatch)
        public static let ambiguousManifest = Code(.ambiguousManifest)
        public static let unsupportedSchema1 = Code(.unsupportedSchema1)
        public static let notAContainerImage = Code(.notAContainerImage)
        public static let noMatchingPlatform = Code(.noMatchingPlatform)
        public static let insecureRedirect = Code(.insecureRedirect)
        public static let tooManyRedirects = Code(.tooManyRedirects)
        public static let forbiddenTarget = Code(.forbiddenTarget)
        public static let foreignAuth = Code(.foreignAuth)
        public static let paginationLoop = Code(.paginationLoop)
        public static let credentials = Code(.credentials)
        public static let config = Code(.config)
        /// A registry's request budget for the run is spent, or it said it has no requests left:
        /// nothing more is sent to it in this run.
        public static let budgetSpent = Code(.budgetSpent)
    }

    public var code: Code
    public var message: String
    /// The layer blob (digest or file name) being applied, when known.
    public var layer: String?
    /// The tar entry name (bytes shown with C-style escapes), when known.
    public var entry: String?
    /// errno of the failed system call, when there was one.
    public var errno: Int32?
    /// The lower-level error this one explains (a system call's failure under "cannot write the
    /// catalog of …"); its text is already part of `message`.
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, layer: String? = nil, entry: String? = nil, errno: Int32? = nil,
                cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.layer = layer
        self.entry = entry
        self.errno = errno ?? (cause as? ImgsyncError)?.errno
        self.cause = cause
    }

    /// An error of `code` saying what was being done (`context`) and why it failed: the cause's
    /// own message (without its code), errno and the cause itself are kept.
    public init(_ code: Code, _ context: String, because cause: any Error & Sendable) {
        let reason = (cause as? ImgsyncError)?.message ?? "\(cause)"
        self.init(code, "\(context): \(reason)", cause: cause)
    }

    /// One line for the operator. Its length is bounded whatever the layer holds: a layer, entry or
    /// message longer than `ImgsyncError.fieldLimit` bytes keeps its first and last
    /// `ImgsyncError.keptBytes` bytes with "…" between (a 9,000-deep path would otherwise fill 18 kB).
    public var description: String {
        var parts: [String] = []
        if let layer { parts.append("layer \(ImgsyncError.bounded(layer))") }
        if let entry { parts.append("entry \"\(ImgsyncError.bounded(entry))\"") }
        let prefix = parts.isEmpty ? "" : parts.joined(separator: ", ") + ": "
        return "\(prefix)\(ImgsyncError.bounded(message)) [\(code)]"
    }

    /// Fields up to this many UTF-8 bytes are shown whole.
    public static let fieldLimit = 512
    /// Bytes kept at each end of a longer field.
    public static let keptBytes = 200

    /// `text` itself, or its first and last `keptBytes` bytes (cut between Unicode scalars) joined by "…".
    package static func bounded(_ text: String) -> String {
        guard text.utf8.count > fieldLimit else { return text }
        let scalars = text.unicodeScalars
        var head = scalars.startIndex
        var bytes = 0
        while head != scalars.endIndex, bytes + UTF8.width(scalars[head]) <= keptBytes {
            bytes += UTF8.width(scalars[head])
            head = scalars.index(after: head)
        }
        var tail = scalars.endIndex
        bytes = 0
        while tail != head {
            let previous = scalars.index(before: tail)
            guard bytes + UTF8.width(scalars[previous]) <= keptBytes else { break }
            bytes += UTF8.width(scalars[previous])
            tail = previous
        }
        return String(scalars[..<head]) + "…" + String(scalars[tail...])
    }

    /// Returns a copy carrying the layer name, unless one is already set.
    public func inLayer(_ name: String) -> ImgsyncError {
        var copy = self
        if copy.layer == nil { copy.layer = name }
        return copy
    }
}

extension ImgsyncError: LocalizedError {
    public var errorDescription: String? { description }
}
