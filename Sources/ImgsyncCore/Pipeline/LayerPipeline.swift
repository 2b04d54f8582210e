import Foundation

/// What the caller knows about a blob before reading it. Every expectation given is verified.
public struct LayerExpectations: Sendable {
    public var compression: LayerCompression
    public var digest: Digest?
    public var size: Int64?
    public var diffID: Digest?

    public init(compression: LayerCompression, digest: Digest? = nil, size: Int64? = nil, diffID: Digest? = nil) {
        self.compression = compression
        self.digest = digest
        self.size = size
        self.diffID = diffID
    }
}

/// What was measured while streaming a blob.
public struct LayerDigests: Sendable, Equatable {
    /// The blob's digest, computed (and checked) only when `LayerExpectations.digest` was given.
    public var blob: Digest?
    public var diffID: Digest
    public var compressedSize: Int64
    public var uncompressedSize: Int64
}

/// Download/read → blob SHA-256 → decompress on a producer thread, handing decompressed chunks to
/// the consumer (the tar reader and layer applier) through a small bounded pool of buffers; the
/// consumer hashes each chunk for the DiffID as it takes it. Decompression and hashing/writing
/// overlap on two cores, memory stays fixed whatever the layer size, and the compressed blob is
/// never copied or read twice.
public final class LayerPipeline: ByteChunkSource {
    private let state: PipelineState
    private var thread: Thread?
    private var current: Int = -1
    private var joined = false
    private let expectedDiffID: Digest?
    private let diffHasher = SHA256Hasher()

    public static let chunkSize = 1 << 20
    /// 8 MiB between the threads: enough for either side to run ahead through the other's bursts
    /// (a large file's write, a run of tiny files). When the applier is the slower side (small
    /// files) the producer fills every buffer, so the pool is resident memory of every build.
    public static let poolSize = 8

    public init(source: any CompressedSource, expect: LayerExpectations, gzipEngine: GzipEngine = .isal,
                maxBytes: Int64) {
        state = PipelineState(bufferCount: LayerPipeline.poolSize, bufferSize: LayerPipeline.chunkSize)
        expectedDiffID = expect.diffID
        let state = self.state
        let producer = PipelineProducer(source: source, expect: expect, gzipEngine: gzipEngine, maxBytes: maxBytes, state: state)
        let t = Thread { producer.run() }
        t.stackSize = 1 << 20
        t.name = "imgsync-decompress"
        thread = t
        t.start()
    }

    deinit {
        if !joined {
            state.cancel()
            state.waitFinished()
        }
        state.release()
    }

    public func nextChunk() throws -> UnsafeRawBufferPointer? {
        if current >= 0 {
            state.giveBack(current)
            current = -1
        }
        guard let (index, count) = try state.takeFull() else { return nil }
        current = index
        let chunk = UnsafeRawBufferPointer(rebasing: state.buffers[index][0..<count])
        diffHasher.update(chunk)
        return chunk
    }

    /// Waits for the producer and returns the verified digests; throws the producer's error.
    public func finish() throws -> LayerDigests {
        if current >= 0 { state.giveBack(current); current = -1 }
        // Drain anything the consumer did not read (bytes after the tar end still count).
        while let (index, count) = try state.takeFull() {
            diffHasher.update(UnsafeRawBufferPointer(rebasing: state.buffers[index][0..<count]))
            state.giveBack(index)
        }
        state.waitFinished()
        joined = true
        if let e = state.error { throw e }
        guard var d = state.result else { throw ImgsyncError(.io, "layer pipeline ended without a result") }
        d.diffID = diffHasher.finalize()
        if let e = expectedDiffID, e != d.diffID {
            throw ImgsyncError(.digestMismatch, "uncompressed layer digest (DiffID) is \(d.diffID), expected \(e)")
        }
        return d
    }

    /// Stops the producer (after a consumer error) and waits for it, so no thread outlives the call.
    public func cancel() {
        if current >= 0 { state.giveBack(current); current = -1 }
        state.cancel()
        state.waitFinished()
        joined = true
    }
}

/// Buffers and hand-over between the two threads, guarded by one condition lock.
final class PipelineState: @unchecked Sendable {
    // @unchecked: every mutable field is read and written only while `cond` is locked, except
    // `buffers`, whose memory is owned by exactly one side at a time (free list vs. full queue).
    let buffers: [UnsafeMutableRawBufferPointer]
    private let cond = NSCondition()
    private var free: [Int]
    private var full: [(Int, Int)] = []
    private var fullHead = 0
    private var producerDone = false
    private var cancelled = false
    private var finishedFlag = false
    var error: ImgsyncError?
    var result: LayerDigests?

    init(bufferCount: Int, bufferSize: Int) {
        buffers = (0..<bufferCount).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 64) }
        free = Array(0..<bufferCount)
    }

    func release() { for b in buffers { b.deallocate() } }

    var isCancelled: Bool { cond.lock(); defer { cond.unlock() }; return cancelled }

    /// Producer: a free buffer, or nil when cancelled.
    func takeFree() -> Int? {
        cond.lock(); defer { cond.unlock() }
        while free.isEmpty && !cancelled { cond.wait() }
        if cancelled { return nil }
        return free.removeLast()
    }

    func pushFull(_ index: Int, _ count: Int) {
        cond.lock()
        full.append((index, count))
        cond.broadcast()
        cond.unlock()
    }

    /// Consumer: the next filled buffer, nil at the end; throws when the producer failed.
    func takeFull() throws -> (Int, Int)? {
        cond.lock(); defer { cond.unlock() }
        while fullHead == full.count && !producerDone { cond.wait() }
        if fullHead < full.count {
            let item = full[fullHead]
            fullHead += 1
            if fullHead == full.count { full.removeAll(keepingCapacity: true); fullHead = 0 }
            return item
        }
        if let error { throw error }
        return nil
    }

    func giveBack(_ index: Int) {
        cond.lock()
        free.append(index)
        cond.broadcast()
        cond.unlock()
    }

    func producerFinished(error: ImgsyncError?, result: LayerDigests?) {
        cond.lock()
        self.error = error
        self.result = result
        producerDone = true
        finishedFlag = true
        cond.broadcast()
        cond.unlock()
    }

    func cancel() {
        cond.lock()
        cancelled = true
        cond.broadcast()
        cond.unlock()
    }

    func waitFinished() {
        cond.lock()
        while !finishedFlag { cond.wait() }
        cond.unlock()
    }
}
