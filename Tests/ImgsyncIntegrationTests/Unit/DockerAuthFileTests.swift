import Foundation
import ImgsyncCore
import Testing
@testable import ImgsyncRegistry

@Suite struct DockerAuthFileTests {
    static let file = """
    {"auths":{
      "https://index.docker.io/v1/":{"auth":"dTpw"},
      "127.0.0.1:5443":{"auth":"\(Data("alice:s3cr:et".utf8).base64EncodedString())"},
      "reg.example:5000":{"username":"u","password":"p"},
      "https://quay.example/v2/":{"username":"q","password":"w"},
      "ghcr.io":{"identitytoken":"R"},
      "tok.example":{"registrytoken":"RT"},
      "empty.example":{}
    },
    "credHelpers":{"ecr.example":"ecr-login"}}
    """

    func load(_ json: String = file, helper: @escaping DockerAuthFile.HelperRunner = { _, _ in
        throw ImgsyncError(.credentials, "no helper in tests")
    }) throws -> DockerAuthFile {
        try DockerAuthFile(path: "/tmp/config.json", contents: Array(json.utf8), runHelper: helper)
    }

    /// R10: exact host[:port] scoping and docker.io aliases.
    @Test func lookups() async throws {
        let f = try load()
        #expect(try await f.credential(for: "docker.io") == .basic(username: "u", password: "p"))
        #expect(try await f.credential(for: "127.0.0.1:5443") == .basic(username: "alice", password: "s3cr:et"))
        #expect(try await f.credential(for: "127.0.0.1:5444") == nil)
        #expect(try await f.credential(for: "127.0.0.1") == nil)
        #expect(try await f.credential(for: "reg.example:5000") == .basic(username: "u", password: "p"))
        #expect(try await f.credential(for: "reg.example") == nil)
        #expect(try await f.credential(for: "quay.example") == .basic(username: "q", password: "w"))
        #expect(try await f.credential(for: "ghcr.io") == .identityToken("R"))
        #expect(try await f.credential(for: "tok.example") == .registryToken("RT"))
        #expect(try await f.credential(for: "empty.example") == nil)
        #expect(try await f.credential(for: "other.example") == nil)
    }

    /// R10: credHelpers run the helper with the server URL; a missing helper is an error, not anonymity.
    @Test func credentialHelper() async throws {
        let f = try load(helper: { program, server in
            #expect(program == "docker-credential-ecr-login")
            #expect(server == "ecr.example")
            return Array(#"{"ServerURL":"ecr.example","Username":"AWS","Secret":"pw"}"#.utf8)
        })
        #expect(try await f.credential(for: "ecr.example") == .basic(username: "AWS", password: "pw"))

        let tokenHelper = try load(helper: { _, _ in Array(#"{"Username":"<token>","Secret":"refresh"}"#.utf8) })
        #expect(try await tokenHelper.credential(for: "ecr.example") == .identityToken("refresh"))

        await #expect { try await load().credential(for: "ecr.example") } throws: { ($0 as? ImgsyncError)?.code == .credentials }
    }

    @Test func missingHelperProgram() async throws {
        await #expect {
            try await CredentialHelperProcess.run(program: "docker-credential-imgsync-does-not-exist", serverURL: "x")
        } throws: {
            let e = $0 as? ImgsyncError
            return e?.code == .credentials && e?.message.contains("credential helper not supported") == true
        }
    }

    @Test func credsStoreAppliesToOtherHosts() async throws {
        let f = try load(#"{"auths":{"a.example":{"auth":"dTpw"}},"credsStore":"pass"}"#, helper: { program, _ in
            #expect(program == "docker-credential-pass")
            return Array(#"{"Username":"x","Secret":"y"}"#.utf8)
        })
        #expect(try await f.credential(for: "a.example") == .basic(username: "u", password: "p"))
        #expect(try await f.credential(for: "b.example") == .basic(username: "x", password: "y"))
    }

    /// R10: bad base64 names the file.
    @Test func badBase64() {
        #expect { try load(#"{"auths":{"h":{"auth":"!!notbase64"}}}"#) } throws: {
            let e = $0 as? ImgsyncError
            return e?.code == .credentials && e?.message.contains("/tmp/config.json") == true
        }
        #expect { try load("{not json") } throws: { ($0 as? ImgsyncError)?.message.contains("/tmp/config.json") == true }
    }

    @Test func fileDiscovery() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("imgsync-auth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent(".docker"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let home = dir.path
        try Data(#"{"auths":{"h":{"auth":"dTpw"}}}"#.utf8).write(to: dir.appendingPathComponent(".docker/config.json"))
        try Data(#"{"auths":{"r":{"auth":"dTpw"}}}"#.utf8).write(to: dir.appendingPathComponent("auth.json"))

        #expect(try DockerAuthFile.load(explicit: nil, environment: ["HOME": home])?.path == home + "/.docker/config.json")
        #expect(try DockerAuthFile.load(explicit: nil, environment: ["HOME": home, "REGISTRY_AUTH_FILE": home + "/auth.json"])?.path == home + "/auth.json")
        #expect(try DockerAuthFile.load(explicit: home + "/auth.json", environment: ["HOME": "/nonexistent"])?.path == home + "/auth.json")
        #expect(try DockerAuthFile.load(explicit: nil, environment: ["HOME": "/nonexistent"]) == nil)
        #expect(throws: ImgsyncError.self) { try DockerAuthFile.load(explicit: home + "/missing.json", environment: [:]) }
        #expect(throws: ImgsyncError.self) { try DockerAuthFile.load(explicit: nil, environment: ["REGISTRY_AUTH_FILE": home + "/missing.json"]) }
    }

    @Test func secretsAreNotPrinted() {
        #expect(!"\(RegistryCredential.basic(username: "u", password: "hunter2"))".contains("hunter2"))
        #expect(!"\(RegistryCredential.identityToken("tok"))".contains("tok)"))
    }
}
