import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// One request, its body read whole (bounded by `HTTPServer`'s limit).
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The path without the query string.
    public var path: String
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(method: HTTPMethod, path: String, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }
}

/// The answer to one request.
public struct HTTPReply: Sendable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: [UInt8]

    public init(_ status: HTTPResponseStatus, contentType: String = "text/plain; charset=utf-8", body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    /// A plain-text reply; a line feed is added.
    public static func text(_ status: HTTPResponseStatus, _ text: String) -> HTTPReply {
        HTTPReply(status, body: Array((text + "\n").utf8))
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A small HTTP/1.1 server on NIO's HTTP pipeline: one request per connection (answered with
/// `Connection: close`), bodies larger than `maxBodyBytes` refused with 413 before they are read
/// whole, connections idle for `idleTimeout` closed, at most `maxConnections` served at once (the
/// others get 503 at once), so that memory stays bounded whatever clients do.
public final class HTTPServer: Sendable {
    let channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    let handler: @Sendable (HTTPRequest) async -> HTTPReply
    let maxBodyBytes: Int
    let maxConnections = 64
    private let connections = Atomic<Int>(0)

    /// The port bound (the one asked for, or the one the system chose for port 0).
    public var port: Int { channel.channel.localAddress?.port ?? 0 }

    private init(channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>,
                 maxBodyBytes: Int, handler: @escaping @Sendable (HTTPRequest) async -> HTTPReply) {
        self.channel = channel
        self.maxBodyBytes = maxBodyBytes
        self.handler = handler
    }

    /// Binds `host:port`; requests are served once `serve()` runs.
    public static func bind(host: String, port: Int, maxBodyBytes: Int, idleTimeout: TimeAmount = .seconds(30),
                            group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                            handler: @escaping @Sendable (HTTPRequest) async -> HTTPReply) async throws -> HTTPServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    try child.pipeline.syncOperations.addHandler(CloseWhenIdle())
                    try child.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: child)
                }
            }
        return HTTPServer(channel: channel, maxBodyBytes: maxBodyBytes, handler: handler)
    }

    /// Accepts and answers connections until `close()`.
    public func serve() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await channel.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { await self.answer(connection) }
                }
            }
        }
    }

    /// Stops accepting connections (`serve()` then returns once the answers in progress are sent).
    public func close() async {
        try? await channel.channel.close()
    }

    private func answer(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        let busy = connections.add(1, ordering: .relaxed).newValue > maxConnections
        defer { connections.subtract(1, ordering: .relaxed) }
        try? await connection.executeThenClose { inbound, outbound in
            if busy {
                try await Self.write(.text(.serviceUnavailable, "too many connections; retry later"), to: outbound)
                return
            }
            var head: HTTPRequestHead?
            var body: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let h):
                    head = h
                    if let length = h.headers.first(name: "content-length").flatMap(Int.init), length > maxBodyBytes {
                        try await Self.write(.text(.payloadTooLarge, "the body is larger than \(maxBodyBytes) bytes"), to: outbound)
                        return
                    }
                case .body(var buffer):
                    guard body.count + buffer.readableBytes <= maxBodyBytes else {
                        try await Self.write(.text(.payloadTooLarge, "the body is larger than \(maxBodyBytes) bytes"), to: outbound)
                        return
                    }
                    body += buffer.readBytes(length: buffer.readableBytes) ?? []
                case .end:
                    guard let head else { return }
                    let path = String(head.uri.prefix { $0 != "?" })
                    let reply = await handler(HTTPRequest(method: head.method, path: path, headers: head.headers, body: body))
                    try await Self.write(reply, to: outbound)
                    return
                }
            }
        }
    }

    private static func write(_ reply: HTTPReply, to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: reply.contentType)
        headers.add(name: "Content-Length", value: "\(reply.body.count)")
        headers.add(name: "Connection", value: "close")
        try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers)))
        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: reply.body))))
        try await outbound.write(.end(nil))
    }
}

/// Closes a connection that sent nothing for the idle timeout (a client that opens connections and
/// never finishes a request must not hold them forever).
private final class CloseWhenIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
