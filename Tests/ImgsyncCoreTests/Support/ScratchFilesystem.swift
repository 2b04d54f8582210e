import Foundation
import ImgsyncTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A filesystem mounted for one test and unmounted when it goes: a tmpfs (`size` like "64m"), or
/// an ext4 image on a loop device (`ext4`, for its hard-link limit of 65,000). Mounting needs
/// root; `ScratchFilesystem.tmpfsOrNil` falls back to nil (the caller uses the temporary directory).
final class ScratchFilesystem {
    let path: String
    private let image: String?

    init(tmpfs size: String) throws {
        path = NSTemporaryDirectory() + "imgsync-fs-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        image = nil
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let status = Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "imgsync-test", path])
        if status != 0 {
            rmdir(path)
            throw ScratchFilesystemError(message: "mount -t tmpfs failed with status \(status)")
        }
    }

    /// An ext4 filesystem of `megabytes` in a sparse image file, mounted through a loop device.
    init(ext4 megabytes: Int) throws {
        path = NSTemporaryDirectory() + "imgsync-fs-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let image = path + ".img"
        self.image = image
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard Self.run("/usr/bin/truncate", ["-s", "\(megabytes)M", image]) == 0,
              Self.run("/sbin/mkfs.ext4", ["-q", "-F", image]) == 0,
              Self.run("/bin/mount", ["-o", "loop", image, path]) == 0 else {
            rmdir(path)
            unlink(image)
            throw ScratchFilesystemError(message: "cannot make and mount an ext4 image")
        }
    }

    /// A tmpfs when this process may mount one (root), else nil.
    static func tmpfsOrNil(size: String = "512m") -> ScratchFilesystem? {
        guard getuid() == 0 else { return nil }
        return try? ScratchFilesystem(tmpfs: size)
    }

    deinit {
        _ = Self.run("/bin/umount", [path])
        rmdir(path)
        if let image { unlink(image) }
    }

    static func run(_ tool: String, _ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.runSerialized() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}

struct ScratchFilesystemError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
