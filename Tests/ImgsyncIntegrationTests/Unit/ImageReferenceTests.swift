import ImgsyncCore
import Testing
@testable import ImgsyncRegistry

@Suite struct ImageReferenceTests {
    let digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    @Test(arguments: [
        ("ubuntu", "docker.io", "library/ubuntu", "latest"),
        ("library/ubuntu:22.04", "docker.io", "library/ubuntu", "22.04"),
        ("index.docker.io/x", "docker.io", "library/x", "latest"),
        ("docker.io/x/y:1", "docker.io", "x/y", "1"),
        ("localhost:5000/a", "localhost:5000", "a", "latest"),
        ("localhost/a:b", "localhost", "a", "b"),
        ("127.0.0.1:5443/lib/a:1", "127.0.0.1:5443", "lib/a", "1"),
        ("ghcr.io/ml4gw/hermes/tritonserver:22.02", "ghcr.io", "ml4gw/hermes/tritonserver", "22.02"),
        ("hub.opensciencegrid.org/htc/rocky:9", "hub.opensciencegrid.org", "htc/rocky", "9"),
        ("opensciencegrid/osgvo-el7", "docker.io", "opensciencegrid/osgvo-el7", "latest"),
        ("a__b/c-d---e.f:V1_x.y-z", "docker.io", "a__b/c-d---e.f", "V1_x.y-z"),
        ("[::1]:5000/a", "[::1]:5000", "a", "latest"),
    ])
    func normalises(_ input: String, _ registry: String, _ repository: String, _ tag: String) throws {
        let ref = try ImageReference(parsing: input)
        #expect(ref.registry == registry)
        #expect(ref.repository == repository)
        #expect(ref.tag == tag)
        #expect(ref.digest == nil)
    }

    @Test func dockerHubAPIHost() throws {
        #expect(try ImageReference(parsing: "ubuntu").apiHost == "registry-1.docker.io")
        #expect(try ImageReference(parsing: "index.docker.io/library/ubuntu") == ImageReference(parsing: "ubuntu"))
        #expect(try ImageReference(parsing: "ghcr.io/a/b").apiHost == "ghcr.io")
        #expect(try ImageReference(parsing: "ubuntu").description == "docker.io/library/ubuntu:latest")
    }

    @Test func digests() throws {
        let byDigest = try ImageReference(parsing: "docker.io/x/y@\(digest)")
        #expect(byDigest.registry == "docker.io")
        #expect(byDigest.repository == "x/y")
        #expect(byDigest.tag == nil)
        #expect(byDigest.digest?.description == digest)
        #expect(byDigest.manifestReference == digest)

        let both = try ImageReference(parsing: "localhost:5000/a:1@\(digest)")
        #expect(both.registry == "localhost:5000")
        #expect(both.tag == "1")
        #expect(both.manifestReference == digest)
        #expect(both.description == "localhost:5000/a:1@\(digest)")
    }

    @Test func portIsNotATag() throws {
        let ref = try ImageReference(parsing: "localhost:5000/a")
        #expect(ref.registry == "localhost:5000")
        #expect(ref.tag == "latest")
    }

    @Test(arguments: [
        "UPPER/case", "Ubuntu", "docker.io/Library/ubuntu", "", "a b", "a/", "/a", "a//b", "-a", "a-",
        "a:", "a:-x", "a:" + String(repeating: "x", count: 129), "a@", "a..b", "a___b", "host:99999/a",
        "host:/a", "a/b:c:d", "ubuntu\n",
    ])
    func rejects(_ input: String) {
        #expect(throws: ImgsyncError.self) { try ImageReference(parsing: input) }
    }

    @Test func uppercaseIsInvalidReference() {
        #expect { try ImageReference(parsing: "UPPER/case") } throws: { ($0 as? ImgsyncError)?.code == .invalidReference }
    }

    @Test func badDigestsKeepTheirClass() {
        #expect { try ImageReference(parsing: "a@sha256:abc") } throws: { ($0 as? ImgsyncError)?.code == .invalidDigest }
        #expect { try ImageReference(parsing: "a@md5:d41d8cd98f00b204e9800998ecf8427e") } throws: {
            ($0 as? ImgsyncError)?.code == .unsupportedAlgorithm
        }
    }

    @Test func longestTagIsAccepted() throws {
        let tag = "_" + String(repeating: "a", count: 127)
        #expect(try ImageReference(parsing: "a:\(tag)").tag == tag)
    }
}
