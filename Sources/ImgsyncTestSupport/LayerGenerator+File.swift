#if canImport(Glibc)
import Glibc

private let posixWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin

private let posixWrite = Darwin.write
#endif
import ImgsyncCore

extension LayerGenerator {
    /// Streams the layer to `path` without holding it in memory (for layers of a gigabyte and more).
    /// The file is written under `<path>.partial` and renamed when complete.
    public func write(toPath path: String) throws(ImgsyncError) -> LayerSummary {
        let partial = path + ".partial"
        let fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.ioError("cannot create \(partial)") }
        var closed = false
        defer {
            if !closed { close(fd) }
        }
        do throws(ImgsyncError) {
            let summary = try emit { (chunk: [UInt8]) throws(ImgsyncError) in
                guard Self.writeAll(fd, chunk) else { throw Self.ioError("cannot write \(partial)") }
            }
            closed = true
            guard close(fd) == 0 else { throw Self.ioError("cannot close \(partial)") }
            guard rename(partial, path) == 0 else { throw Self.ioError("cannot rename \(partial) to \(path)") }
            return summary
        } catch {
            unlink(partial)
            throw error
        }
    }

    /// Writes all of `bytes`, retrying on EINTR; false (with errno set) on failure.
    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = posixWrite(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                offset += n
            }
            return true
        }
    }

    private static func ioError(_ message: String) -> ImgsyncError {
        let code = errno
        return ImgsyncError(.io, "\(message): \(String(cString: strerror(code)))", errno: code)
    }
}
