#if canImport(Glibc)
import Glibc
#endif
import ImgsyncCore
import ImgsyncRepository
import NIOCore

/// The framing of a build worker's input pipe: an 8-byte header (a 4-byte tag and a little-endian
/// `UInt32` payload length) and the payload. The parent sends one `JOB ` frame (the `BuildJob`
/// as JSON), then for each layer it streams any number of `DATA` frames and one `END ` frame, sent
/// only once the download finished and its digest and size were verified.
enum WorkerFrame: UInt32 {
    case job = 0x2042_4F4A   // "JOB "
    case data = 0x4154_4144  // "DATA"
    case end = 0x2044_4E45   // "END "

    static let headerSize = 8
    /// Layer bytes go out in writes of about this size (the pipe is enlarged to it).
    static let writeSize = 1 << 20
    /// A `JOB ` frame larger than this is refused (the job holds the image config).
    static let maxJob = 64 << 20

    static func header(_ tag: WorkerFrame, length: Int) -> [UInt8] {
        let t = tag.rawValue, n = UInt32(length)
        return [UInt8(t & 0xff), UInt8(t >> 8 & 0xff), UInt8(t >> 16 & 0xff), UInt8(t >> 24),
                UInt8(n & 0xff), UInt8(n >> 8 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 24)]
    }
}

/// The build worker stopped reading its input (it failed or died): its outcome says why.
struct WorkerInputClosed: Error {
    let errno: Int32
}

/// The parent's end of a worker's input pipe. Used by one thread at a time.
final class WorkerInput {
    private(set) var fd: Int32

    init(fd: Int32) {
        self.fd = fd
    }

    deinit { close() }

    func close() {
        if fd >= 0 { WorkerSys.close(fd) }
        fd = -1
    }

    func send(_ tag: WorkerFrame, _ payload: [UInt8] = []) throws {
        let header = WorkerFrame.header(tag, length: payload.count)
        try header.withUnsafeBytes { h in
            try payload.withUnsafeBytes { p in
                var iov = [iovec(iov_base: UnsafeMutableRawPointer(mutating: h.baseAddress), iov_len: h.count)]
                if p.count > 0 { iov.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: p.baseAddress), iov_len: p.count)) }
                try writeAll(&iov)
            }
        }
    }

    /// One `DATA` frame of `chunks`, written with one `writev` (more when the pipe takes part of it),
    /// straight from the downloaded buffers.
    func send(_ chunks: [ByteBuffer]) throws {
        let total = chunks.reduce(0) { $0 + $1.readableBytes }
        guard total > 0 else { return }
        let header = WorkerFrame.header(.data, length: total)
        try header.withUnsafeBytes { h in
            var iov = [iovec(iov_base: UnsafeMutableRawPointer(mutating: h.baseAddress), iov_len: h.count)]
            iov.reserveCapacity(chunks.count + 1)
            // The storage references keep each buffer's memory alive while its pointer is in `iov`.
            var storages: [Unmanaged<AnyObject>] = []
            storages.reserveCapacity(chunks.count)
            defer { for s in storages { s.release() } }
            for chunk in chunks where chunk.readableBytes > 0 {
                let storage = chunk.withUnsafeReadableBytesWithStorageManagement { bytes, storage in
                    iov.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count))
                    return storage.retain()
                }
                storages.append(storage)
            }
            try writeAll(&iov)
        }
    }

    private func writeAll(_ iov: inout [iovec]) throws {
        var first = 0
        while first < iov.count {
            let n = iov[first...].withUnsafeBufferPointer { writev(fd, $0.baseAddress, Int32($0.count)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw WorkerInputClosed(errno: errno)
            }
            var left = n
            while first < iov.count && left >= iov[first].iov_len {
                left -= iov[first].iov_len
                first += 1
            }
            if left > 0 {
                iov[first].iov_base += left
                iov[first].iov_len -= left
            }
        }
    }
}

/// The worker's end of its input pipe: the job, then each layer's frames as a `CompressedSource`
/// that reads straight into the layer pipeline's buffers.
final class WorkerFrameReader {
    private let fd: Int32
    /// Bytes of the current `DATA` frame not read yet.
    fileprivate var remaining = 0

    init(fd: Int32) {
        self.fd = fd
    }

    static func inputEnded() -> ImgsyncError {
        ImgsyncError(.io, "the build worker's input ended early (the sync process gave up on this image)")
    }

    func readJob() throws -> [UInt8] {
        let (tag, length) = try readHeader()
        guard tag == .job, length <= WorkerFrame.maxJob else {
            throw ImgsyncError(.invalidArgument, "the build worker expected a job first (it is started by `imgsync sync`)")
        }
        var job = [UInt8](repeating: 0, count: length)
        var done = 0
        while done < length {
            let n = try job.withUnsafeMutableBytes { try read(into: UnsafeMutableRawBufferPointer(rebasing: $0[done...])) }
            guard n > 0 else { throw Self.inputEnded() }
            done += n
        }
        return job
    }

    func readHeader() throws -> (WorkerFrame, Int) {
        var header = [UInt8](repeating: 0, count: WorkerFrame.headerSize)
        var done = 0
        while done < header.count {
            let n = try header.withUnsafeMutableBytes { try read(into: UnsafeMutableRawBufferPointer(rebasing: $0[done...])) }
            guard n > 0 else { throw Self.inputEnded() }
            done += n
        }
        let tag = UInt32(header[0]) | UInt32(header[1]) << 8 | UInt32(header[2]) << 16 | UInt32(header[3]) << 24
        let length = Int(UInt32(header[4]) | UInt32(header[5]) << 8 | UInt32(header[6]) << 16 | UInt32(header[7]) << 24)
        guard let frame = WorkerFrame(rawValue: tag) else {
            throw ImgsyncError(.io, "the build worker's input is not in its framing (tag 0x\(String(tag, radix: 16)))")
        }
        return (frame, length)
    }

    /// One `read(2)`, retried on EINTR; 0 at the end of the pipe.
    fileprivate func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw WorkerSys.failure("read", "the build worker's input")
        }
    }
}

/// One layer's bytes as the parent streams them: `DATA` frames up to the `END ` frame.
final class WorkerLayerSource: CompressedSource {
    private let frames: WorkerFrameReader
    private(set) var ended = false

    init(_ frames: WorkerFrameReader) {
        self.frames = frames
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if ended { return 0 }
        while frames.remaining == 0 {
            let (tag, length) = try frames.readHeader()
            switch tag {
            case .end:
                ended = true
                return 0
            case .data:
                frames.remaining = length
            case .job:
                throw ImgsyncError(.io, "the build worker received a second job")
            }
        }
        // As much as fits of the current frame: the parent writes each frame whole, so the rest of
        // it is on its way, and the pipeline then gets full buffers, not what one read found.
        let want = min(buffer.count, frames.remaining)
        var n = 0
        while n < want {
            let got = try frames.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[n..<want]))
            guard got > 0 else { throw WorkerFrameReader.inputEnded() }
            n += got
        }
        frames.remaining -= n
        return n
    }

    /// Reads up to the layer's `END ` frame: the parent sends it only after the blob's digest was
    /// verified, so nothing is published before every layer's download was checked.
    func finish() throws {
        var scratch = [UInt8](repeating: 0, count: 64 << 10)
        while !ended {
            _ = try scratch.withUnsafeMutableBytes { try read(into: $0) }
        }
    }
}
