import Foundation
import ImgsyncCore

/// A real registry: Debian's `docker-registry` (distribution v2) on 127.0.0.1 and a free port.
struct LocalRegistry: Sendable {
    let port: Int
    let storage: String
    /// The registry's own output (its access log when started with `accessLog: true`).
    var logFile: String = ""
    var name: String { "127.0.0.1:\(port)" }

    /// Request lines of the access log, e.g. `GET /v2/org/a/blobs/sha256:… HTTP/1.1`.
    func requests() -> [String] {
        guard let text = try? String(contentsOfFile: logFile, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line -> String? in
            guard let open = line.firstIndex(of: "\""), let close = line[line.index(after: open)...].firstIndex(of: "\"") else { return nil }
            let request = line[line.index(after: open)..<close]
            return request.contains(" /v2/") ? String(request) : nil
        }
    }

    /// Blob GETs in the access log so far.
    func blobGets() -> [String] { requests().filter { $0.hasPrefix("GET ") && $0.contains("/blobs/") } }
}

/// The token server (tokenserver.py) for a registry with `auth: token`.
struct TokenServer: Sendable {
    let port: Int
    let logFile: String
    let service = "imgsync-registry"
    let issuer = "imgsync-test"
    var realm: String { "https://127.0.0.2:\(port)/token" }

    func requests() -> [LoggedRequest] {
        guard let text = try? String(contentsOfFile: logFile, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(LoggedRequest.self, from: Data($0.utf8)) }
    }
}

/// What mkoci.py wrote for one tag.
struct LayoutImage: Decodable, Sendable {
    struct Manifest: Decodable, Sendable {
        struct Layer: Decodable, Sendable { var mediaType: String; var digest: String; var size: Int }
        var config: String
        var layers: [Layer]
        var diff_ids: [String]
        var manifest: String
    }
    var digest: String
    var manifests: [Manifest]
}

extension FakeEnvironment {
    /// Starts `docker-registry serve` with TLS from the test CA (or plain http), filesystem storage
    /// (shared and read-only when given), optionally `auth: token` against `token`, and optionally
    /// `notifications:` to `notify` (a webhook URL) with `Authorization: Bearer <notifyToken>`.
    func registry(storage: String? = nil, readOnly: Bool = false, token: TokenServer? = nil, tls: Bool = true, accessLog: Bool = false,
                  notify: String? = nil, notifyToken: String? = nil) async throws -> LocalRegistry {
        let port = try freePort()
        let id = UUID().uuidString.prefix(8)
        let storage = storage ?? dir.file("storage-\(id)")
        var config = """
        version: 0.1
        log:
          level: warn
          accesslog:
            disabled: \(!accessLog)
        storage:
          filesystem:
            rootdirectory: \(storage)
          maintenance:
            uploadpurging:
              enabled: false
            readonly:
              enabled: \(readOnly)
        http:
          addr: 127.0.0.1:\(port)
          secret: imgsync-test-secret

        """
        if tls {
            config += """
              tls:
                certificate: \(ca.serverCert)
                key: \(ca.serverKey)

            """
        }
        if let token {
            config += """
            auth:
              token:
                realm: \(token.realm)
                service: \(token.service)
                issuer: \(token.issuer)
                rootcertbundle: \(ca.signCert)

            """
        }
        if let notify {
            config += """
            notifications:
              endpoints:
                - name: imgsync
                  url: \(notify)
                  timeout: 5s
                  threshold: 10
                  backoff: 1s

            """
            if let notifyToken {
                config += """
                      headers:
                        Authorization: [Bearer \(notifyToken)]

                """
            }
        }
        try dir.write("registry-\(id).yml", config)
        let process = try ChildProcess.start(
            ["python3", fixturesDirectory + "/supervise.py", dir.file("registry-\(id).log"), "--",
             "docker-registry", "serve", dir.file("registry-\(id).yml")],
            logFile: dir.file("registry-\(id).out"))
        track(process)
        try await waitForPort("127.0.0.1", port)
        return LocalRegistry(port: port, storage: storage, logFile: dir.file("registry-\(id).log"))
    }

    /// Starts the token server on 127.0.0.2 with `users`; anonymous users get `anonymousActions`.
    func tokenServer(users: [String: String] = ["alice": "wonderland"], anonymousActions: [String] = ["pull"]) async throws -> TokenServer {
        let id = UUID().uuidString.prefix(8)
        struct Config: Encodable {
            var host = "127.0.0.2"
            var cert, key, sign_key, sign_cert, log, ready: String
            var issuer = "imgsync-test"
            var service = "imgsync-registry"
            var users: [String: String]
            var anonymous_actions: [String]
        }
        let config = Config(cert: ca.serverCert, key: ca.serverKey, sign_key: ca.signKey, sign_cert: ca.signCert,
                            log: dir.file("token-\(id).log"), ready: dir.file("token-\(id).ready"),
                            users: users, anonymous_actions: anonymousActions)
        try JSONEncoder().encode(config).write(to: URL(fileURLWithPath: dir.file("token-\(id).json")))
        _ = FileManager.default.createFile(atPath: config.log, contents: nil)
        let process = try ChildProcess.start(["python3", fixturesDirectory + "/tokenserver.py", dir.file("token-\(id).json")],
                                             logFile: dir.file("token-\(id).out"))
        track(process)
        let port = try await waitForFile(config.ready)
        return TokenServer(port: Int(port)!, logFile: config.log)
    }

    /// Writes an OCI layout with mkoci.py from a JSON spec (see that file) and returns what it wrote.
    func layout(_ imagesJSON: String) async throws -> (path: String, images: [String: LayoutImage]) {
        let id = UUID().uuidString.prefix(8)
        let path = dir.file("layout-\(id)")
        try dir.write("layout-\(id).json", #"{"layout":"\#(path)","images":\#(imagesJSON)}"#)
        let out = try await ChildProcess.run(["python3", fixturesDirectory + "/mkoci.py", dir.file("layout-\(id).json")])
        return (path, try JSONDecoder().decode([String: LayoutImage].self, from: Data(out.utf8)))
    }

    /// `skopeo copy` from a layout tag to `registry/repository:tag`.
    func push(_ layout: String, tag: String, to destination: String, format: String? = nil, all: Bool = false) async throws {
        var arguments = ["skopeo", "--insecure-policy", "copy", "-q", "--dest-cert-dir", ca.certDir]
        if let format { arguments += ["--format", format] }
        if all { arguments.append("--all") }
        arguments += ["oci:\(layout):\(tag)", "docker://\(destination)"]
        try await ChildProcess.run(arguments)
    }
}

/// The images most real-registry tests use: an OCI image with a gzip and a zstd layer, the same kind
/// of image as Docker schema 2, and a two-platform index.
let standardImages = """
[{"tag":"single","manifests":[{"config":{"Env":["PATH=/usr/bin","A=1"],"Entrypoint":["/bin/app"],"Cmd":["--help"],"Labels":{"org.example":"yes"}},
   "layers":[{"files":{"etc/a":"one"},"compression":"gzip"},{"files":{"etc/b":"two"},"compression":"zstd"}]}]},
 {"tag":"docker","manifests":[{"config":{"Env":["B=2"]},"layers":[{"files":{"d":"docker"},"compression":"gzip"}]}]},
 {"tag":"multi","index":true,"manifests":[
   {"platform":{"os":"linux","architecture":"amd64"},"layers":[{"files":{"x":"amd64"}}]},
   {"platform":{"os":"linux","architecture":"arm64","variant":"v8"},"layers":[{"files":{"x":"arm64"}}]}]}]
"""
