import Foundation
import ImgsyncCore
import NIOCore

/// Hands a blob that arrives as an async sequence of `ByteBuffer`s to the layer pipeline, which reads
/// with blocking calls on its own thread. A bounded window of chunks sits between the two: the
/// download task suspends (without blocking a thread) while the window is full, and the pipeline
/// blocks while it is empty. There is no other copy of the blob.
///
/// The feeding side calls `push` for each chunk and then `finish(error:)`; the pipeline side reads
/// through `CompressedSource.read(into:)`, which reports the feeder's error (a digest or size
/// mismatch found by `BlobStream` at the end, a network failure) in place of end of data, so the
/// layer fails before anything is published.
final class BlobBridge: CompressedSource, @unchecked Sendable {
    // @unchecked: every mutable field is guarded by `condition`.
    private let condition = NSCondition()
    private var chunks: [ByteBuffer] = []
    private var head = 0
    private var queued = 0
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false
    private var spaceWaiter: CheckedContinuation<Void, Never>?
    private let capacity: Int
    /// Bytes handed to the pipeline so far.
    private var deliveredBytes: Int64 = 0
    var delivered: Int64 {
        condition.lock()
        defer { condition.unlock() }
        return deliveredBytes
    }

    init(capacity: Int = 8 << 20) {
        self.capacity = capacity
    }

    // MARK: feeding side (async)

    /// Queues one chunk; suspends while the window is full. Returns false once the reader cancelled.
    func push(_ buffer: ByteBuffer) async -> Bool {
        while true {
            switch tryPush(buffer) {
            case .cancelled: return false
            case .queued: return true
            case .full: break
            }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                condition.lock()
                if queued < capacity || cancelled {
                    condition.unlock()
                    c.resume()
                } else {
                    spaceWaiter = c
                    condition.unlock()
                }
            }
        }
    }

    private enum PushResult { case queued, full, cancelled }

    private func tryPush(_ buffer: ByteBuffer) -> PushResult {
        condition.lock()
        defer { condition.unlock() }
        if cancelled { return .cancelled }
        guard queued < capacity else { return .full }
        chunks.append(buffer)
        queued += buffer.readableBytes
        condition.broadcast()
        return .queued
    }

    /// Ends the stream: cleanly (nil) or with the error the reader will see.
    func finish(error: (any Error)?) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    // MARK: reading side (blocking, the pipeline's producer thread)

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard try lockWhenReadable({ head < chunks.count }) else { return 0 }
        var n = 0
        while n < buffer.count && head < chunks.count {
            let take = min(buffer.count - n, chunks[head].readableBytes)
            chunks[head].withUnsafeReadableBytes { src in
                UnsafeMutableRawBufferPointer(rebasing: buffer[n..<(n + take)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: src[0..<take]))
            }
            chunks[head].moveReaderIndex(forwardBy: take)
            n += take
            if chunks[head].readableBytes == 0 {
                head += 1
            }
        }
        tookAndUnlock(n)
        return n
    }

    /// The reading side for a thread that passes the chunks on whole (to a build worker's pipe):
    /// blocks until at least `minimum` bytes are queued or the stream ended, then takes up to
    /// `maxChunks` chunks without copying them. Returns [] at the end and throws the feeder's
    /// error in its place, like `read(into:)`.
    func takeChunks(minimum: Int, maxChunks: Int) throws -> [ByteBuffer] {
        guard try lockWhenReadable({ queued >= minimum }) else { return [] }
        let end = min(chunks.count, head + maxChunks)
        let taken = Array(chunks[head..<end])
        head = end
        tookAndUnlock(taken.reduce(0) { $0 + $1.readableBytes })
        return taken
    }

    /// Locks and waits until `ready()` holds or the stream ended or was cancelled. Returns true,
    /// with the lock held, when chunks are queued; otherwise unlocks and throws (cancelled, or the
    /// feeder's error) or returns false (the clean end of the stream).
    private func lockWhenReadable(_ ready: () -> Bool) throws -> Bool {
        condition.lock()
        while !ready() && !finished && !cancelled {
            condition.wait()
        }
        if cancelled {
            condition.unlock()
            throw ImgsyncError(.io, "layer download cancelled")
        }
        if head == chunks.count {
            let error = failure
            condition.unlock()
            if let error { throw error }
            return false
        }
        return true
    }

    /// With the lock held, after the reader took `n` bytes (the chunks before `head` are used up):
    /// drops used chunks, counts the bytes, unlocks, and wakes the feeder when there is room again.
    private func tookAndUnlock(_ n: Int) {
        if head == chunks.count {
            chunks.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64 {
            chunks.removeFirst(head)
            head = 0
        }
        queued -= n
        deliveredBytes += Int64(n)
        let waiter = queued < capacity ? spaceWaiter : nil
        if waiter != nil { spaceWaiter = nil }
        condition.unlock()
        waiter?.resume()
    }

    /// Whether the reader, giving up, asked for the rest of the blob to be read and verified anyway
    /// (`cancel(drain: true)`).
    var isDraining: Bool {
        condition.lock()
        defer { condition.unlock() }
        return draining
    }
    private var draining = false

    /// Called when the layer is abandoned: the feeder's next push returns false. With `drain`, the
    /// feeder should still read the blob to its end (discarding it), so that its digest is checked:
    /// a layer that failed to parse may be a corrupt download rather than a bad layer.
    func cancel(drain: Bool = false) {
        condition.lock()
        cancelled = true
        draining = drain
        let waiter = spaceWaiter
        spaceWaiter = nil
        condition.broadcast()
        condition.unlock()
        waiter?.resume()
    }
}

/// Runs blocking work (a layer application) on a thread of its own, so that Swift concurrency's few
/// cooperative threads stay free for the downloads the work is waiting for.
func onDedicatedThread<T: Sendable>(name: String, _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            do {
                continuation.resume(returning: try work())
            } catch {
                continuation.resume(throwing: error)
            }
        }
        thread.name = name
        thread.stackSize = 4 << 20
        thread.start()
    }
}
