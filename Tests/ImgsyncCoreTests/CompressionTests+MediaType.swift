import Testing
@testable import ImgsyncCore

/// Magic-byte sniffing (D10, U136) and the layer media-type table (U137).
extension CompressionTests {
    static let tarHeader: [UInt8] = {
        var block = [UInt8](repeating: 0, count: 512)
        block.replaceSubrange(0..<8, with: Array("usr/bin/".utf8))
        block.replaceSubrange(257..<263, with: Array("ustar\0".utf8))
        return block
    }()

    @Test func sniffRecognisesMagicBytes() {
        #expect(LayerCompression.sniff(F.gzip([1, 2, 3])) == .gzip)
        #expect(LayerCompression.sniff(F.zstd([1, 2, 3])) == .zstd)
        for nibble: UInt8 in [0, 7, 0xf] {
            #expect(LayerCompression.sniff(F.skippableFrame(nibble: nibble, payload: 4)) == .zstd)
        }
        #expect(LayerCompression.sniff(Self.tarHeader) == .none)
        #expect(LayerCompression.sniff([]) == .none)
        #expect(LayerCompression.sniff([0x1f]) == .none)
        #expect(LayerCompression.sniff([0x28, 0xb5, 0x2f]) == .none)
        #expect(LayerCompression.sniff([0x1f, 0x8c]) == .none)
        #expect(LayerCompression.sniff([0x28, 0xb5, 0x2f, 0xfe]) == .none)
        #expect(LayerCompression.sniff([0x60, 0x2a, 0x4d, 0x18]) == .none)
    }

    @Test func checkAcceptsAgreeingPrefixes() throws {
        try LayerCompression.check(declared: .gzip, prefix: F.gzip([1]))
        try LayerCompression.check(declared: .zstd, prefix: F.zstd([1]))
        try LayerCompression.check(declared: .zstd, prefix: F.skippableFrame(nibble: 2, payload: 0))
        try LayerCompression.check(declared: .none, prefix: Self.tarHeader)
        // A tar may start with any byte of a file name, even a partial magic.
        try LayerCompression.check(declared: .none, prefix: [0x1f, 0x41, 0x42])
        // A blob shorter than the magic but consistent with it is left to the decompressor.
        try LayerCompression.check(declared: .gzip, prefix: [0x1f])
        try LayerCompression.check(declared: .zstd, prefix: [0x28, 0xb5])
    }

    @Test(arguments: LayerCompression.allCases)
    func emptyPrefixNeverFails(declared: LayerCompression) throws {
        try LayerCompression.check(declared: declared, prefix: [])
    }

    @Test(arguments: [
        (LayerCompression.gzip, CompressionTests.tarHeader, "does not start with the gzip magic"),
        (.none, F.gzip([1, 2, 3]), "starts with gzip magic"),
        (.none, F.zstd([1, 2, 3]), "starts with zstd magic"),
        (.zstd, F.gzip([1, 2, 3]), "media type says zstd but the blob starts with gzip magic bytes (1f 8b)"),
        (.gzip, F.zstd([1, 2, 3]), "media type says gzip but the blob starts with zstd magic bytes (28 b5 2f fd)"),
        (.zstd, CompressionTests.tarHeader, "does not start with the zstd magic"),
        (.gzip, [0x1e], "does not start with the gzip magic"),
    ])
    func checkRejectsMismatches(declared: LayerCompression, prefix: [UInt8], wording: String) throws {  // U136
        let error = try #require(throws: ImgsyncError.self) {
            try LayerCompression.check(declared: declared, prefix: prefix)
        }
        #expect(error.code == .mediaType)
        #expect(error.message.contains(wording), "\(error.message)")
    }

    @Test(arguments: [
        ("application/vnd.oci.image.layer.v1.tar", LayerCompression.none, false),
        ("application/vnd.oci.image.layer.v1.tar+gzip", .gzip, false),
        ("application/vnd.oci.image.layer.v1.tar+zstd", .zstd, false),
        ("application/vnd.oci.image.layer.nondistributable.v1.tar", .none, true),
        ("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", .gzip, true),
        ("application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", .zstd, true),
        ("application/vnd.docker.image.rootfs.diff.tar.gzip", .gzip, false),
        ("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", .gzip, true),
        ("application/vnd.docker.image.rootfs.diff.tar", .none, false),
    ])
    func supportedMediaTypes(string: String, compression: LayerCompression, nondistributable: Bool) throws {  // U137
        let mediaType = try LayerMediaType(string)
        #expect(mediaType.compression == compression)
        #expect(mediaType.isNondistributable == nondistributable)
        #expect(mediaType.rawValue == string)
        #expect(try LayerMediaType(cliName: string).compression == compression)
    }

    @Test(arguments: [
        "application/vnd.oci.image.layer.v1.tar+bzip2",
        "application/vnd.oci.image.layer.v1.tar+invalid",
        "application/json",
        "",
        "application/vnd.oci.image.layer.v1.tar+GZIP",
        " application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.image.rootfs.diff.tar.zstd",
        "gzip",
    ])
    func unsupportedMediaTypes(string: String) throws {  // U137
        let error = try #require(throws: ImgsyncError.self) { try LayerMediaType(string) }
        #expect(error.code == .unsupportedMediaType)
        #expect(error.message.contains("media type \"\(string)\""))
    }

    @Test(arguments: [
        ("tar", LayerCompression.none), ("gzip", .gzip), ("tar+gzip", .gzip), ("zstd", .zstd), ("tar+zstd", .zstd),
    ])
    func cliNames(name: String, compression: LayerCompression) throws {
        let mediaType = try LayerMediaType(cliName: name)
        #expect(mediaType.compression == compression)
        #expect(try LayerMediaType(mediaType.rawValue).compression == compression)
    }

    @Test(arguments: ["bzip2", "tar.gz", "", "GZIP", "none"])
    func unknownCLINames(name: String) throws {
        let error = try #require(throws: ImgsyncError.self) { try LayerMediaType(cliName: name) }
        #expect(error.code == .unsupportedMediaType)
        #expect(error.message.contains("\"\(name)\""))
    }
}
