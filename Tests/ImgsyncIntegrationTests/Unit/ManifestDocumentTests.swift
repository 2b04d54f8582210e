import ImgsyncCore
import Testing
@testable import ImgsyncRegistry

@Suite struct ManifestDocumentTests {
    static let d1 = "sha256:" + String(repeating: "a", count: 64)
    static let d2 = "sha256:" + String(repeating: "b", count: 64)
    static let manifestBody = #"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\#(d1)","size":10},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"\#(d2)","size":20}]}"#
    static let indexBody = #"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"\#(d1)","size":10,"platform":{"os":"linux","architecture":"amd64"}}]}"#

    func decode(_ body: String, _ contentType: String?) throws -> ManifestDocument {
        try ManifestDocument.decode(Array(body.utf8), contentType: contentType, source: "REG/lib/a:1")
    }

    func withType(_ body: String, _ type: String) -> String {
        "{\"mediaType\":\"\(type)\"," + body.dropFirst()
    }

    func code(_ body: String, _ contentType: String?) -> ImgsyncError.Code? {
        do { _ = try decode(body, contentType); return nil } catch { return (error as? ImgsyncError)?.code }
    }

    /// R15: Content-Type parameters are ignored.
    @Test func contentTypeParameters() throws {
        let doc = try decode(Self.manifestBody, "application/vnd.oci.image.manifest.v1+json; charset=utf-8")
        guard case .manifest(let m, let type) = doc else { Issue.record("not a manifest"); return }
        #expect(type == MediaType.ociManifest)
        #expect(m.layers.count == 1)
        #expect(m.layers[0].digest.description == Self.d2)
    }

    @Test func dockerTypes() throws {
        let body = withType(Self.manifestBody, MediaType.dockerManifest)
        #expect(try decode(body, MediaType.dockerManifest).mediaType == MediaType.dockerManifest)
        let list = withType(Self.indexBody, MediaType.dockerManifestList)
        #expect(try decode(list, MediaType.dockerManifestList).mediaType == MediaType.dockerManifestList)
    }

    /// R16: Content-Type and body mediaType disagree.
    @Test func mismatch() {
        let body = withType(Self.manifestBody, MediaType.ociManifest)
        #expect(code(body, MediaType.ociIndex) == .manifestMediaTypeMismatch)
        #expect(code(Self.manifestBody, MediaType.ociIndex) == .manifestMediaTypeMismatch)
        #expect(code(Self.indexBody, MediaType.dockerManifest) == .manifestMediaTypeMismatch)
        #expect(code(withType(Self.manifestBody, MediaType.dockerManifest), MediaType.ociManifest) == .manifestMediaTypeMismatch)
    }

    /// R17: both `manifests` and `layers`/`config`, under any Content-Type.
    @Test(arguments: [MediaType.ociIndex, MediaType.ociManifest, "application/octet-stream", nil] as [String?])
    func ambiguous(_ contentType: String?) {
        let body = #"{"schemaVersion":2,"manifests":[],"config":{"mediaType":"x","digest":"\#(Self.d1)","size":1},"layers":[]}"#
        #expect(code(body, contentType) == .ambiguousManifest)
    }

    /// R18: generic or missing Content-Type → body mediaType, else unambiguous shape.
    @Test func genericContentType() throws {
        #expect(try decode(Self.manifestBody, "application/octet-stream").mediaType == MediaType.ociManifest)
        #expect(try decode(Self.indexBody, nil).mediaType == MediaType.ociIndex)
        #expect(try decode(withType(Self.manifestBody, MediaType.dockerManifest), "application/json").mediaType == MediaType.dockerManifest)
        #expect(code(#"{"schemaVersion":2}"#, "application/octet-stream") == .manifest)
        #expect(code(Self.manifestBody, "text/html") == .unsupportedMediaType)
        #expect(code("<html>", nil) == .manifest)
    }

    /// R19: schema 1 by Content-Type or body.
    @Test func schema1() {
        #expect(code("{}", MediaType.dockerSchema1Signed) == .unsupportedSchema1)
        #expect(code("{}", MediaType.dockerSchema1) == .unsupportedSchema1)
        #expect(code(#"{"schemaVersion":1,"name":"lib/a","fsLayers":[]}"#, "application/json") == .unsupportedSchema1)
        do {
            _ = try decode("{}", MediaType.dockerSchema1Signed)
        } catch let e as ImgsyncError {
            #expect(e.message == "REG/lib/a:1 is a Docker schema 1 image (deprecated); rebuild and push it again")
        } catch {}
    }

    /// R50: descriptor digests are validated while decoding.
    @Test func descriptorDigestsValidated() {
        let bad = Self.manifestBody.replacingOccurrences(of: Self.d2, with: "sha256:../../../etc/passwd")
        #expect(code(bad, MediaType.ociManifest) == .invalidDigest)
        let md5 = Self.manifestBody.replacingOccurrences(of: Self.d2, with: "md5:d41d8cd98f00b204e9800998ecf8427e")
        #expect(code(md5, MediaType.ociManifest) == .unsupportedAlgorithm)
        let negative = Self.manifestBody.replacingOccurrences(of: "\"size\":20", with: "\"size\":-1")
        #expect(code(negative, MediaType.ociManifest) == .manifest)
    }

    @Test func imageConfig() throws {
        let json = #"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Entrypoint":null,"Cmd":["sh"],"Labels":{"a":"b"},"WorkingDir":""},"rootfs":{"type":"layers","diff_ids":["\#(Self.d1)"]}}"#
        let config = try ImageConfig(parsing: Array(json.utf8), source: "x")
        #expect(config.env == ["PATH=/bin"])
        #expect(config.entrypoint == nil)
        #expect(config.cmd == ["sh"])
        #expect(config.labels == ["a": "b"])
        #expect(config.workingDir == nil)
        #expect(config.diffIDs.map(\.description) == [Self.d1])
        #expect(throws: ImgsyncError.self) { try ImageConfig(parsing: Array("[]".utf8), source: "x") }
    }
}
