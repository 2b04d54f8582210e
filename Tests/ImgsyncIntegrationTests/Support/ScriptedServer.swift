import Foundation
import ImgsyncRegistry
import Logging
import Synchronization

/// One scripted answer of `fakeserver.py`.
struct Reply: Encodable, Sendable {
    enum Length: Encodable, Sendable {
        case auto, chunked, none, exactly(Int)
        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .auto: try c.encode("auto")
            case .chunked: try c.encode("chunked")
            case .none: try c.encodeNil()
            case .exactly(let n): try c.encode(n)
            }
        }
    }

    var status = 200
    var headers: [[String]] = []
    var body: String?
    var body_b64: String?
    var body_file: String?
    var content_length: Length = .auto
    var honor_range: Bool?
    var gzip: Bool?
    var truncate_after: Int?
    var close_after: Int?
    var stall_after: Int?
    var stall_seconds: Double?
    var trickle: Int?

    init(_ status: Int = 200, headers: [(String, String)] = [], body: String? = nil) {
        self.status = status
        self.headers = headers.map { [$0.0, $0.1] }
        self.body = body
    }

    static func bytes(_ data: [UInt8], status: Int = 200, headers: [(String, String)] = []) -> Reply {
        var r = Reply(status, headers: headers)
        r.body_b64 = Data(data).base64EncodedString()
        return r
    }

    static func json(_ text: String, status: Int = 200, headers: [(String, String)] = []) -> Reply {
        Reply(status, headers: [("Content-Type", "application/json")] + headers, body: text)
    }

    func with(_ change: (inout Reply) -> Void) -> Reply {
        var copy = self
        change(&copy)
        return copy
    }
}

/// A route of `fakeserver.py`: the n-th matching request gets `responses[min(n, last)]`.
struct Route: Encodable, Sendable {
    var method: String
    var path: String?
    var prefix: String?
    var responses: [Reply]

    init(_ method: String = "*", _ path: String, _ responses: Reply...) {
        self.method = method
        self.path = path
        self.responses = responses
    }

    init(_ method: String = "*", prefix: String, _ responses: Reply...) {
        self.method = method
        self.prefix = prefix
        self.responses = responses
    }
}

/// A request as the scripted server logged it.
struct LoggedRequest: Decodable, Sendable {
    var t: Double
    var method: String
    var path: String
    var headers: [[String]]
    var body: String
    /// Requests being answered when this one arrived, itself included (see fakeserver.py).
    var inflight: Int?

    func header(_ name: String) -> String? {
        headers.first { $0[0].lowercased() == name.lowercased() }?[1]
    }
}

/// A scripted HTTPS server (fakeserver.py) on a loopback address, stopped by `withScriptedServer`.
final class ScriptedServer: Sendable {
    let host: String
    let port: Int
    let logFile: String
    let process: ChildProcess

    /// `host:port`, as a registry name.
    var name: String { "\(host):\(port)" }
    var url: String { "https://\(host):\(port)" }

    private init(host: String, port: Int, logFile: String, process: ChildProcess) {
        self.host = host
        self.port = port
        self.logFile = logFile
        self.process = process
    }

    static func start(host: String, routes: [Route], dir: TestDirectory, ca: TestCA, blackhole: Bool = false, plain: Bool = false) async throws -> ScriptedServer {
        let id = UUID().uuidString.prefix(8)
        struct Scenario: Encodable {
            var host, cert, key, log, ready: String
            var routes: [Route]
            var blackhole: Bool
            var plain: Bool
        }
        let scenario = Scenario(host: host, cert: ca.serverCert, key: ca.serverKey, log: dir.file("fake-\(id).log"),
                                ready: dir.file("fake-\(id).ready"), routes: routes, blackhole: blackhole, plain: plain)
        let scenarioFile = dir.file("fake-\(id).json")
        try JSONEncoder().encode(scenario).write(to: URL(fileURLWithPath: scenarioFile))
        _ = FileManager.default.createFile(atPath: scenario.log, contents: nil)
        let process = try ChildProcess.start(["python3", fixturesDirectory + "/fakeserver.py", scenarioFile], logFile: dir.file("fake-\(id).out"))
        do {
            let port = try await waitForFile(scenario.ready)
            return ScriptedServer(host: host, port: Int(port)!, logFile: scenario.log, process: process)
        } catch {
            process.stop()
            throw error
        }
    }

    func requests() -> [LoggedRequest] {
        guard let text = try? String(contentsOfFile: logFile, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(LoggedRequest.self, from: Data($0.utf8)) }
    }

    func stop() { process.stop() }
}

/// A test's scripted servers, CA and directory. Everything it started is stopped by `withFakeEnvironment`.
final class FakeEnvironment: Sendable {
    let dir: TestDirectory
    let ca: TestCA
    private let started = Mutex<[ChildProcess]>([])

    init(dir: TestDirectory, ca: TestCA) {
        self.dir = dir
        self.ca = ca
    }

    /// Starts a scripted server on `host` (127.0.0.1, .2 or .3) with a free port.
    func server(_ host: String = "127.0.0.1", _ routes: [Route]) async throws -> ScriptedServer {
        let server = try await ScriptedServer.start(host: host, routes: routes, dir: dir, ca: ca)
        started.withLock { $0.append(server.process) }
        return server
    }

    /// Remembers a process so that `stopAll` ends it.
    func track(_ process: ChildProcess) {
        started.withLock { $0.append(process) }
    }

    /// A scripted server speaking plain http (R38, R56).
    func plainServer(_ host: String = "127.0.0.1", _ routes: [Route]) async throws -> ScriptedServer {
        let server = try await ScriptedServer.start(host: host, routes: routes, dir: dir, ca: ca, plain: true)
        started.withLock { $0.append(server.process) }
        return server
    }

    /// A port on `host` whose accept queue is full, so that connecting hangs (R54c).
    func blackhole(_ host: String = "127.0.0.1") async throws -> ScriptedServer {
        let server = try await ScriptedServer.start(host: host, routes: [], dir: dir, ca: ca, blackhole: true)
        started.withLock { $0.append(server.process) }
        return server
    }

    func stopAll() {
        started.withLock { processes in
            processes.forEach { $0.stop() }
            processes.removeAll()
        }
    }

    /// A client that trusts the test CA, may be redirected to 127.0.0.2/.3, and has short timeouts.
    func configuration(_ change: (inout RegistryClientConfiguration) -> Void = { _ in }) -> RegistryClientConfiguration {
        var config = RegistryClientConfiguration()
        config.caFiles = [ca.caCert]
        config.networkPolicy = NetworkPolicy(allowedHosts: ["127.0.0.2", "127.0.0.3"])
        config.connectTimeout = .seconds(5)
        config.readTimeout = .seconds(10)
        config.retryBaseDelay = .milliseconds(20)
        config.maxRetryDelay = .milliseconds(100)
        change(&config)
        return config
    }

    func withClient<R>(
        credentials: any CredentialProvider = AnonymousCredentials(),
        logger: Logger = Logger(label: "test"),
        _ change: (inout RegistryClientConfiguration) -> Void = { _ in },
        _ body: (RegistryClient) async throws -> R
    ) async throws -> R {
        try await RegistryClient.withClient(configuration: configuration(change), credentials: credentials, logger: logger, body)
    }
}

/// Runs `body` with a fresh directory and CA; stops every server it started and removes the directory
/// on every path.
func withFakeEnvironment<R>(_ body: (FakeEnvironment) async throws -> R) async throws -> R {
    try await withTestDirectory { dir in
        let env = FakeEnvironment(dir: dir, ca: try await TestCA.make(in: dir))
        defer { env.stopAll() }
        return try await body(env)
    }
}
