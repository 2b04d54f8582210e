import ImgsyncCore
import Testing
@testable import ImgsyncRegistry

@Suite struct TagAndDigestValidationTests {
    /// R49: only grammatical tags survive a registry's tag list.
    @Test func registryTagsAreFiltered() {
        let tags = ["v1", "../../etc", "a b", "", String(repeating: "x", count: 129), ".hidden", "-x", "x/y", "ok_1.2-3"]
        let (valid, invalid) = TagName.partition(tags)
        #expect(valid == ["v1", "ok_1.2-3"])
        #expect(invalid.count == 7)
        #expect(TagName.isValid(String(repeating: "x", count: 128)))
    }

    /// R50, first group: malformed digests are `.invalidDigest`.
    @Test(arguments: [
        "sha256:../../../etc/passwd",
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
        "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "sha256:",
        ":abc", "sha256", "sha256:e3b0/", "sha512:abc",
    ])
    func invalidDigests(_ s: String) {
        #expect { try RegistryDigest.parse(s, what: "test") } throws: { ($0 as? ImgsyncError)?.code == .invalidDigest }
    }

    /// R50, second group: grammatical but not verifiable.
    @Test(arguments: ["md5:d41d8cd98f00b204e9800998ecf8427e", "sha256+b64:47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="])
    func unsupportedAlgorithms(_ s: String) {
        #expect { try RegistryDigest.parse(s, what: "test") } throws: { ($0 as? ImgsyncError)?.code == .unsupportedAlgorithm }
    }

    @Test func validDigest() throws {
        let d = try RegistryDigest.parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", what: "test")
        #expect(d == Digest.empty)
    }
}
