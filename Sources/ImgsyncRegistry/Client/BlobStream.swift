import AsyncHTTPClient
import Foundation
import ImgsyncCore
import NIOCore

/// A blob's bytes as they arrive, with backpressure: the next chunk is read from the network only when
/// the consumer asks for it. The SHA-256 and the size are checked while streaming (no second pass):
///
/// - a chunk that would take the total past `descriptor.size` is never returned: `.sizeMismatch` (R31);
/// - the chunk that completes the blob is returned only if the digest matches; otherwise `next()`
///   throws `.digestMismatch` instead (R30), so a consumer that commits only after `next()` returns nil
///   never commits unverified bytes;
/// - an interrupted or stalled body is resumed with `Range` from the first missing byte, a bounded number
///   of times and only while progress is made (R32b–R35, R54); a 200 that ignores the Range is skipped
///   to the offset; a 416 or a wrong `Content-Range` restarts once from 0 and is skipped to the offset;
/// - a foreign or non-distributable layer the registry does not have is fetched from its `urls`
///   without any registry credentials (R40).
///
/// Each iterator makes its own download; iterate once.
public struct BlobStream: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    let client: RegistryClient
    public let registry: String
    public let repository: String
    public let descriptor: Descriptor

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(self) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        private let stream: BlobStream
        private var body: HTTPClientResponse.Body.AsyncIterator?
        private let hasher = SHA256Hasher()
        private var received: Int64 = 0
        private var skip: Int64 = 0
        private var finished = false
        private var resumes = 0
        private var restarts = 0
        private var offsetAtLastResume: Int64 = -1
        private var contentEncoded = false
        /// Where the bytes come from: the registry, or a foreign URL (no credentials).
        private var foreignURL: String?
        /// When the first request was made (for the minimum average speed).
        private var startedAt: Date?
        /// The registry's place for a request in flight, held while the body is read.
        private var slot: RequestSlot?

        init(_ stream: BlobStream) { self.stream = stream }

        private var label: String { "\(stream.registry)/\(stream.repository)@\(stream.descriptor.digest)" }
        private var size: Int64 { stream.descriptor.size }

        public mutating func next() async throws -> ByteBuffer? {
            do {
                let chunk = try await step()
                if chunk == nil || finished { releaseSlot() }
                return chunk
            } catch {
                releaseSlot()
                throw error
            }
        }

        private mutating func releaseSlot() {
            slot?.release()
            slot = nil
        }

        private mutating func step() async throws -> ByteBuffer? {
            if finished { return nil }
            if body == nil && received == 0 && resumes == 0 && restarts == 0 {
                startedAt = stream.client.configuration.now()
                try await start()
            }
            while true {
                let chunk: ByteBuffer?
                do {
                    chunk = try await body!.next()
                } catch {
                    if Task.isCancelled { finished = true; throw CancellationError() }
                    try await resume(after: stream.client.classify(error, what: "blob \(label)"))
                    continue
                }
                guard var chunk else {
                    if received < size {
                        try await resume(after: ImgsyncError(.truncated, "blob \(label): the connection ended after \(received) of \(size) bytes"))
                        continue
                    }
                    finished = true
                    if size == 0 { try verify() }
                    return nil
                }
                stream.client.trafficLog.received(stream.registry, bytes: chunk.readableBytes)
                if skip > 0 {
                    let drop = Int(Swift.min(skip, Int64(chunk.readableBytes)))
                    chunk.moveReaderIndex(forwardBy: drop)
                    skip -= Int64(drop)
                    if chunk.readableBytes == 0 { continue }
                }
                if received + Int64(chunk.readableBytes) > size {
                    finished = true
                    throw ImgsyncError(.sizeMismatch, "blob \(label) is longer than its descriptor's \(size) bytes")
                }
                chunk.withUnsafeReadableBytes { hasher.update($0) }
                received += Int64(chunk.readableBytes)
                if received == size {
                    try verify()
                    releaseSlot()
                } else {
                    try checkSpeed()
                }
                return chunk
            }
        }

        /// Fails the download when, past the grace period, it averages less than the minimum speed.
        private mutating func checkSpeed() throws {
            let config = stream.client.configuration
            guard config.minimumBlobSpeed > 0, let startedAt else { return }
            let elapsed = config.now().timeIntervalSince(startedAt)
            let grace = Double(config.blobSpeedGrace.components.seconds) + Double(config.blobSpeedGrace.components.attoseconds) / 1e18
            guard elapsed > grace, Double(received) < Double(config.minimumBlobSpeed) * elapsed else { return }
            finished = true
            throw ImgsyncError(.timeout, "blob \(label): \(ByteCount.format(received)) of \(ByteCount.format(size)) in \(Int(elapsed)) s, "
                + "slower than the minimum average of \(ByteCount.format(config.minimumBlobSpeed))/s (--min-blob-speed)",
                layer: stream.descriptor.digest.description)
        }

        private mutating func verify() throws {
            let digest = hasher.finalize()
            guard digest == stream.descriptor.digest else {
                finished = true
                throw ImgsyncError(.digestMismatch, "blob \(label): the \(size) bytes received hash to \(digest)", layer: stream.descriptor.digest.description)
            }
        }

        /// The first request: the registry, then (for foreign layers it lacks) the descriptor's urls.
        private mutating func start() async throws {
            do {
                try await open(from: 0, useRange: false)
            } catch let error as ImgsyncError where error.code == .notFound && !stream.descriptor.urls.isEmpty {
                var lastError = error
                for url in stream.descriptor.urls {
                    do {
                        try stream.client.checkForeignURL(url, registry: stream.registry, label: label)
                        foreignURL = url
                        try await open(from: 0, useRange: false)
                        return
                    } catch let failure as ImgsyncError {
                        if failure.code == .foreignAuth || failure.code == .forbiddenTarget || failure.code == .insecureRedirect {
                            throw failure
                        }
                        lastError = failure
                    }
                }
                throw lastError
            }
        }

        private mutating func resume(after error: ImgsyncError) async throws {
            guard error.code == .network || error.code == .timeout || error.code == .truncated else {
                finished = true
                throw error
            }
            guard resumes < stream.client.configuration.maxResumes, received > offsetAtLastResume else {
                finished = true
                throw ImgsyncError(error.code, "\(error.message) (gave up after \(resumes) resumes)")
            }
            resumes += 1
            offsetAtLastResume = received
            body = nil
            releaseSlot()
            stream.client.logger.info("resuming blob \(label) at byte \(received) of \(size) after: \(error.message)")
            do {
                try await open(from: received, useRange: !contentEncoded)
            } catch {
                finished = true
                throw error
            }
        }

        /// GETs the blob from `offset` (with `Range` when `useRange`) and sets up skipping so that the
        /// next byte delivered is byte `offset` of the blob.
        private mutating func open(from offset: Int64, useRange: Bool) async throws {
            var request = stream.client.blobRequest(registry: stream.registry, repository: stream.repository, digest: stream.descriptor.digest)
            if let foreignURL {
                request.url = foreignURL
                request.authenticate = false
            }
            if useRange && offset > 0 {
                request.headers.add(name: "Range", value: "bytes=\(offset)-")
                request.passStatuses = [416]
            }
            body = nil
            releaseSlot()
            let response = try await stream.client.perform(request)
            slot = response.slot
            let headers = response.headers
            contentEncoded = headers.first(name: "Content-Encoding").map { $0.lowercased() != "identity" } ?? false
            let length = contentEncoded ? nil : headers.first(name: "Content-Length").flatMap(Int64.init)
            switch response.status {
            case 206 where useRange && offset > 0:
                let range = HeaderParsing.contentRange(headers.first(name: "Content-Range"))
                guard let range, range.first == offset, range.last < size, range.complete == nil || range.complete == size,
                      length == nil || length == range.last - range.first + 1 else {
                    try await restart(offset, because: "a wrong Content-Range \((headers.first(name: "Content-Range") ?? "(none)").debugQuoted)")
                    return
                }
                skip = 0
            case 416:
                try await restart(offset, because: "HTTP 416 to Range bytes=\(offset)-")
                return
            case 200:
                if let length, length != size {
                    finished = true
                    throw ImgsyncError(.sizeMismatch, "blob \(label): the server sends \(length) bytes but the descriptor says \(size)")
                }
                skip = offset
            default:
                finished = true
                throw ImgsyncError(.server, "blob \(label): unexpected HTTP \(response.status) from \(response.url.host ?? "?")")
            }
            body = response.response.body.makeAsyncIterator()
        }

        /// R35: one restart without Range, skipping what was already delivered; a second bad answer is an error.
        private mutating func restart(_ offset: Int64, because reason: String) async throws {
            guard restarts == 0 else {
                finished = true
                throw ImgsyncError(.server, "blob \(label): \(reason) again while resuming at byte \(offset)")
            }
            restarts += 1
            stream.client.logger.info("blob \(label): \(reason); restarting from byte 0")
            try await open(from: offset, useRange: false)
        }
    }
}

extension RegistryClient {
    /// A verified stream of a blob's bytes (see `BlobStream`). Nothing is requested until iteration starts.
    public func fetchBlob(registry: String, repository: String, descriptor: Descriptor) -> BlobStream {
        BlobStream(client: self, registry: registry, repository: repository, descriptor: descriptor)
    }

    /// A verified stream of a layer or config of `image` (same registry and repository).
    public func fetchBlob(_ image: ImageReference, descriptor: Descriptor) -> BlobStream {
        fetchBlob(registry: image.registry, repository: image.repository, descriptor: descriptor)
    }

    /// A whole small blob (a config), at most `limit` bytes, verified.
    public func fetchSmallBlob(_ image: ImageReference, descriptor: Descriptor, limit: Int? = nil) async throws -> [UInt8] {
        let limit = limit ?? configuration.configLimit
        guard descriptor.size <= Int64(limit) else {
            throw ImgsyncError(.limit, "blob \(image.name)@\(descriptor.digest) is \(descriptor.size) bytes, more than the limit of \(limit)")
        }
        let key = ContentCache.key(registry: image.registry, repository: image.repository, digest: descriptor.digest)
        if let hit = contentCache.get(key), hit.bytes.count == descriptor.size { return hit.bytes }
        var out: [UInt8] = []
        out.reserveCapacity(Int(descriptor.size))
        for try await chunk in fetchBlob(image, descriptor: descriptor) {
            out += chunk.readableBytesView
        }
        // The stream verified the size and digest: kept for another tag of the same image.
        contentCache.put(key, ContentCache.Entry(bytes: out, contentType: nil))
        return out
    }

    func blobRequest(registry: String, repository: String, digest: Digest) -> RegistryRequest {
        var request = RegistryRequest(
            method: .GET, registry: registry,
            url: baseURL(registry) + "/v2/\(repository)/blobs/\(digest)",
            subject: .blob(repository: repository, digest: digest.description))
        request.headers.add(name: "Accept-Encoding", value: "identity")
        request.scopes = [.pull(repository)]
        return request
    }

    /// A foreign layer URL must be https and on a host the network policy allows (R40).
    func checkForeignURL(_ text: String, registry: String, label: String) throws {
        guard let url = URL(string: text), url.scheme?.lowercased() == "https", let host = url.host, !host.isEmpty else {
            throw ImgsyncError(.forbiddenTarget, "blob \(label): foreign URL \(text.debugQuoted) is not https; refused")
        }
        let registryHost = URL(string: baseURL(registry))?.host ?? ""
        try configuration.networkPolicy.check(host: host, registryHost: registryHost, purpose: "the foreign URL of blob \(label)")
    }
}
