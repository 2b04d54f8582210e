#if canImport(Glibc)
import Glibc
#endif

/// Where a layer blob's bytes come from: a local file, memory, or (for registry pulls) a stream.
/// `read` blocks until at least one byte is available and returns 0 only at the end.
public protocol CompressedSource: AnyObject {
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// A blob in a local file.
public final class FileSource: CompressedSource {
    private let fd: Int32
    public let path: String

    public init(path: String) throws {
        self.path = path
        fd = try Syscall.openPath(path, flags: O_RDONLY)
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
    }

    deinit { Syscall.close(fd) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw Syscall.failure("read", path)
        }
    }
}

/// A blob in memory.
public final class BytesSource: CompressedSource {
    private let bytes: [UInt8]
    private var offset = 0
    private let maxRead: Int

    public init(_ bytes: [UInt8], maxRead: Int = 1 << 20) {
        self.bytes = bytes
        self.maxRead = max(1, maxRead)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - offset, maxRead)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)])) }
        offset += n
        return n
    }
}
