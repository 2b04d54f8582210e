import Testing
@testable import ImgsyncCore

@Suite struct DigestTests {
    @Test func emptyDigestMatchesKnownValue() {
        #expect(Digest.empty.description == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func parsesAndRoundTrips() throws {
        let d = try Digest(parsing: "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(d == Digest.empty)
    }

    @Test(arguments: [
        "sha256:../../../etc/passwd",
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
        "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "sha256:",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
    ])
    func rejectsInvalidDigests(_ s: String) {
        #expect(throws: ImgsyncError.self) { try Digest(parsing: s) }
    }
}
