import ArgumentParser
import Foundation
import ImgsyncCore
import ImgsyncRepository
import Testing
@testable import ImgsyncCommands
@testable import ImgsyncRegistry

/// `imgsync inspect` against a real registry: in-process for the output, and the built executable for
/// exit codes and the TLS failure.
@Suite(.timeLimit(.minutes(3))) struct InspectCommandTests {
    func command(_ arguments: [String]) throws -> InspectCommand {
        try #require(try Imgsync.parseAsRoot(["inspect"] + arguments) as? InspectCommand)
    }

    /// The `imgsync` executable built next to the test bundle.
    var executable: String {
        imgsyncExecutable
    }

    @Test func inspectsRealImages() async throws {
        try await withFakeEnvironment { env in
            let reg = try await env.registry()
            let (layout, images) = try await env.layout(standardImages)
            try await env.push(layout, tag: "multi", to: "\(reg.name)/lib/multi:1", all: true)
            try await env.push(layout, tag: "single", to: "\(reg.name)/lib/a:1")
            let multi = try #require(images["multi"])
            let environment = ["HOME": env.dir.path]

            let text = try await command(["\(reg.name)/lib/multi:1", "--ca-file", env.ca.caCert, "--platform", "linux/arm64"]).output(environment: environment)
            #expect(text.contains("Registry:      \(reg.name)"))
            #expect(text.contains("Repository:    lib/multi"))
            #expect(text.contains("Tag:           1"))
            #expect(text.contains("Digest:        \(multi.digest)"))
            #expect(text.contains("Manifest:      \(multi.manifests[1].manifest) (\(MediaType.ociManifest))"))
            #expect(text.contains("Platform:      linux/arm64/v8"))
            #expect(text.contains("Config:        \(multi.manifests[1].config)"))
            #expect(text.contains(multi.manifests[1].layers[0].digest))

            let json = try await command(["\(reg.name)/lib/a:1", "--json", "--ca-file", env.ca.caCert]).output(environment: environment)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            let single = try #require(images["single"])
            #expect(object["digest"] as? String == single.digest)
            #expect(object["indexDigest"] == nil)
            #expect(object["manifestMediaType"] as? String == MediaType.ociManifest)
            #expect(object["env"] as? [String] == ["PATH=/usr/bin", "A=1"])
            #expect(object["entrypoint"] as? [String] == ["/bin/app"])
            #expect(object["cmd"] as? [String] == ["--help"])
            #expect(object["labels"] as? [String: String] == ["org.example": "yes"])
            #expect((object["layers"] as? [[String: Any]])?.map { $0["mediaType"] as? String } == [MediaType.ociLayerGzip, MediaType.ociLayerZstd])

            let raw = try await command(["\(reg.name)/lib/multi:1", "--raw"]).output(environment: ["SSL_CERT_FILE": env.ca.caCert, "HOME": env.dir.path])
            #expect(SHA256Hasher.hash(Array(raw.utf8.dropLast())).description == multi.digest)

            // The executable: success with the CA, a TLS error (exit 1) without it.
            let ok = try await ChildProcess.run([executable, "inspect", "\(reg.name)/lib/a:1", "--ca-file", env.ca.caCert])
            #expect(ok.contains("Digest:        \(single.digest)"))
            do {
                try await ChildProcess.run(["env", "-u", "SSL_CERT_FILE", "HOME=\(env.dir.path)", executable, "inspect", "\(reg.name)/lib/a:1"])
                Issue.record("inspect without the CA succeeded")
            } catch let failure as CommandFailed {
                #expect(failure.status == 1)
                #expect(failure.output.contains("[tls]"))
            }
        }
    }

    @Test func rejectsBadArguments() throws {
        #expect(throws: (any Error).self) { try Imgsync.parseAsRoot(["inspect", "UPPER/case"]) }
        #expect(throws: (any Error).self) { try Imgsync.parseAsRoot(["inspect", "ubuntu", "--platform", "linux"]) }
        #expect(throws: (any Error).self) { try Imgsync.parseAsRoot(["inspect", "ubuntu", "--raw", "--json"]) }
    }

    /// Issue 10 item 17: a redirect to another loopback host is refused with a hint that names an
    /// option that exists, and `--allow-host` permits it.
    @Test func aRedirectToAnotherLoopbackHostNeedsAllowHost() async throws {
        try await withFakeEnvironment { env in
            let image = FakeImage.make()
            let mirror = try await env.server("127.0.0.2", image.routes())
            let redirect = Reply(307, headers: [("Location", "\(mirror.url)/v2/lib/a/manifests/1")])
            // The tag's manifest is redirected; the config is the registry's own.
            let reg = try await env.server("127.0.0.1", [Route("*", "/v2/lib/a/manifests/1", redirect)] + image.routes())
            let base = ["env", "HOME=\(env.dir.path)", executable, "inspect", "\(reg.name)/lib/a:1", "--ca-file", env.ca.caCert]
            do {
                _ = try await ChildProcess.run(base)
                Issue.record("the redirect to 127.0.0.2 was followed")
            } catch let failure as CommandFailed {
                #expect(failure.status == 1, "\(failure.output)")
                #expect(failure.output.contains("pass --allow-host 127.0.0.2 to permit it"), "\(failure.output)")
            }
            #expect(mirror.requests().isEmpty)
            let allowed = try await ChildProcess.run(base + ["--allow-host", "127.0.0.2"])
            #expect(allowed.contains("Digest:        \(image.manifestDigest)"), "\(allowed)")
        }
    }
}
