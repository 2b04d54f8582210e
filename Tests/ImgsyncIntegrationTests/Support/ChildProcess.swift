import Foundation
import ImgsyncTestSupport
import Synchronization
import Testing

/// A temporary directory that `withTestDirectory` removes on every path.
struct TestDirectory: Sendable {
    let path: String

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: file(name)))
    }
}

func withTestDirectory<R>(_ body: (TestDirectory) async throws -> R) async throws -> R {
    let base = FileManager.default.temporaryDirectory.path + "/imgsync-registry-test-" + UUID().uuidString.prefix(8)
    try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    let dir = TestDirectory(path: base)
    do {
        let result = try await body(dir)
        try? FileManager.default.removeItem(atPath: base)
        return result
    } catch {
        try? FileManager.default.removeItem(atPath: base)
        throw error
    }
}

/// The Fixtures folder next to this file (python helpers).
let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures").path

struct CommandFailed: Error, CustomStringConvertible {
    var command: [String]
    var status: Int32
    var output: String
    var description: String { "\(command.joined(separator: " ")) exited \(status): \(output)" }
}

/// A child process started by a test. `stop()` kills it (SIGKILL: the helpers keep no state worth a
/// clean exit, and a child may inherit a signal mask that blocks SIGTERM).
/// `@unchecked Sendable`: `Process` is thread-safe for terminate/isRunning/waitUntilExit, the only calls made.
final class ChildProcess: @unchecked Sendable {
    let process: Process

    private init(_ process: Process) { self.process = process }

    /// Starts `arguments` (PATH lookup through /usr/bin/env) with output to `logFile`.
    static func start(_ arguments: [String], logFile: String) throws -> ChildProcess {
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.runSerialized()
        return ChildProcess(process)
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        Self.awaitExit(process)
    }

    /// Waits (bounded, sleeping) until Foundation has seen `process` end. Not `waitUntilExit()`,
    /// which spins a run loop at full speed for as long as Foundation does not notice the end,
    /// and not our own `waitpid`: a child reaped behind Foundation's back leaves Foundation waiting
    /// on a pid the kernel may give to the next child, and this file would then signal that one.
    static func awaitExit(_ process: Process, timeout: TimeInterval = 30) {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
    }

    /// Runs a command to completion within `timeout`, returning stdout; a non-zero exit throws.
    @discardableResult
    static func run(_ arguments: [String], timeout: TimeInterval = 120, stdin: String? = nil) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let dir = FileManager.default.temporaryDirectory.path + "/imgsync-run-" + UUID().uuidString.prefix(8)
        let outPath = dir + ".out", errPath = dir + ".err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let input = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        try process.runSerialized()
        if let stdin {
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try? input.fileHandleForWriting.close()
        }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                kill(process.processIdentifier, SIGKILL)
                awaitExit(process)
                throw CommandFailed(command: arguments, status: -1, output: "timed out after \(timeout) s")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        if process.terminationStatus != 0 {
            let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            throw CommandFailed(command: arguments, status: process.terminationStatus, output: err + out)
        }
        return out
    }
}

/// Waits (bounded) until `path` exists and returns its contents.
func waitForFile(_ path: String, timeout: TimeInterval = 60) async throws -> String {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if let text = try? String(contentsOfFile: path, encoding: .utf8) { return text }
        try await Task.sleep(for: .milliseconds(25))
    }
    throw CommandFailed(command: ["wait", path], status: -1, output: "no file after \(timeout) s")
}

/// The next candidate of `freePort`, shared by every test of this process.
private let nextPortCandidate = Mutex<Int>(0)

/// A TCP port on 127.0.0.1 that is free now and that no other call of this process returns.
/// Ports come from below the kernel's ephemeral range (32768 and up here), so neither another
/// test's `bind(0)` nor an outgoing connection takes one between this call and the server's bind;
/// asking the kernel for a port (`bind` to 0) instead once handed two concurrent tests the same
/// port, and one test then talked to the other's registry.
func freePort() throws -> Int {
    let low = 12_000, high = 32_000
    for _ in 0..<(high - low) {
        let port = nextPortCandidate.withLock { next -> Int in
            if next == 0 { next = low + Int(getpid() % 80) * 250 }  // test processes running side by side start apart
            let port = next
            next = next + 1 >= high ? low : next + 1
            return port
        }
        if canBind(port) { return port }
    }
    throw CommandFailed(command: ["bind"], status: errno, output: "no free port in \(low)..<\(high)")
}

/// Whether a listener could bind 127.0.0.1:`port` now.
private func canBind(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

/// Waits (bounded) until something accepts TCP connections on host:port.
func waitForPort(_ host: String, _ port: Int, timeout: TimeInterval = 60) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr(host)
        addr.sin_port = UInt16(port).bigEndian
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        close(fd)
        if ok { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw CommandFailed(command: ["connect", "\(host):\(port)"], status: -1, output: "nothing listening after \(timeout) s")
}

// `Process.runSerialized()`: ImgsyncTestSupport (ProcessLaunch.swift).

