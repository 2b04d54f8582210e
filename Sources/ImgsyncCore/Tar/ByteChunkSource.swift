/// A source of decompressed layer bytes, delivered in chunks.
public protocol ByteChunkSource: AnyObject {
    /// The next chunk (valid until the next call), or nil at the end of the stream.
    func nextChunk() throws -> UnsafeRawBufferPointer?
}

/// A chunk source over bytes in memory (tests, small inputs).
public final class MemoryChunkSource: ByteChunkSource {
    private let storage: UnsafeMutableRawBufferPointer
    private let chunkSize: Int
    private var offset = 0

    public init(_ bytes: [UInt8], chunkSize: Int = 64 * 1024) {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        bytes.withUnsafeBytes { storage.copyMemory(from: $0) }
        self.storage = storage
        self.chunkSize = max(1, chunkSize)
        count = bytes.count
    }

    private let count: Int

    deinit { storage.deallocate() }

    public func nextChunk() throws -> UnsafeRawBufferPointer? {
        guard offset < count else { return nil }
        let n = min(chunkSize, count - offset)
        let chunk = UnsafeRawBufferPointer(rebasing: storage[offset..<(offset + n)])
        offset += n
        return chunk
    }
}

/// Buffered, position-tracking reads over a `ByteChunkSource`.
final class TarInput {
    private let source: any ByteChunkSource
    private var chunk = UnsafeRawBufferPointer(start: nil, count: 0)
    private var pos = 0
    private(set) var atEnd = false
    /// Bytes consumed so far.
    private(set) var offset: Int64 = 0

    init(_ source: any ByteChunkSource) { self.source = source }

    /// Makes at least one unread byte available; false at end of stream.
    @inline(__always)
    private func fill() throws -> Bool {
        while pos >= chunk.count {
            if atEnd { return false }
            guard let next = try source.nextChunk() else {
                atEnd = true
                chunk = UnsafeRawBufferPointer(start: nil, count: 0)
                pos = 0
                return false
            }
            chunk = next
            pos = 0
        }
        return true
    }

    /// Copies up to `dest.count` bytes; returns how many were available before the end of the stream.
    func read(into dest: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < dest.count {
            guard try fill() else { break }
            let n = min(dest.count - done, chunk.count - pos)
            UnsafeMutableRawBufferPointer(rebasing: dest[done..<(done + n)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: chunk[pos..<(pos + n)]))
            pos += n
            done += n
        }
        offset += Int64(done)
        return done
    }

    /// Hands the next `count` bytes to `body` in place (zero copy); returns the bytes delivered.
    func stream(_ count: Int64, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        var left = count
        while left > 0 {
            guard try fill() else { break }
            let n = Int(min(left, Int64(chunk.count - pos)))
            try body(UnsafeRawBufferPointer(rebasing: chunk[pos..<(pos + n)]))
            pos += n
            left -= Int64(n)
            offset += Int64(n)
        }
        return count - left
    }

    func skip(_ count: Int64) throws -> Int64 {
        var left = count
        while left > 0 {
            guard try fill() else { break }
            let n = Int(min(left, Int64(chunk.count - pos)))
            pos += n
            left -= Int64(n)
            offset += Int64(n)
        }
        return count - left
    }

    /// Reads and discards everything left in the stream.
    func drain() throws {
        while try fill() {
            offset += Int64(chunk.count - pos)
            pos = chunk.count
        }
    }
}
