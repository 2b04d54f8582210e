import Foundation
import ImgsyncTestSupport

// Writes the seed corpus of every fuzz target (`scripts/fuzz --make-corpus`): small, valid inputs in
// every format the targets parse, built with TarBuilder and LayerCompressors, so the fuzzer starts
// from the shapes real layers have. Each seed is one option byte (0: checksums verified, hardlink
// mode, whole chunks) followed by the blob. Deterministic: the same sources give the same files.

let out = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "Fuzz/Corpus"
let t0 = TarBuilder.t0
let wholeChunks: UInt8 = 7 << 5

func write(_ target: String, _ name: String, _ blob: [UInt8], option: UInt8 = wholeChunks) {
    let dir = out + "/" + target
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let bytes = [option] + blob
    precondition(bytes.count <= 16 << 10, "seed \(target)/\(name) is \(bytes.count) bytes: keep seeds small")
    precondition(FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(bytes)), "cannot write \(dir)/\(name)")
}

// MARK: tar layers (targets tar and apply)

var layers: [(String, [UInt8])] = []

layers.append(("ustar-every-type", TarBuilder.tar { t in
    t.dir("etc/", mode: 0o755)
    t.file("etc/hosts", "127.0.0.1 localhost\n", mode: 0o644)
    t.file("bin/tool", "#!/bin/sh\n", mode: 0o4755, uid: 1000, gid: 1000)
    t.symlink("bin/sh", target: "/bin/tool")
    t.hardlink("bin/tool2", target: "bin/tool")
    t.charDevice("dev/null", major: 1, minor: 3)
    t.blockDevice("dev/sda", major: 8, minor: 0)
    t.fifo("run/fifo")
    t.dir("tmp/", mode: 0o1777)
}))

layers.append(("pax-records", TarBuilder.tar { t in
    t.pax([.mtime("1577836800.123456789"), .uid(70000), .gid(70000)])
    t.file(String(repeating: "long-directory-name/", count: 8) + "file", "pax path")
    t.symlink("link", target: String(repeating: "t", count: 150))
    t.file("attrs", "x", xattrs: [.schily("user.comment", "hello"), .libarchive("user.bin", [0, 1, 2])])
    t.file("nanos", "n", mtimeNanoseconds: 5)
    t.paxGlobal(["comment": "ignored"])
    t.file("after-global", "g")
}))

layers.append(("gnu-long-names", TarBuilder.tar { t in
    t.file(String(repeating: "g", count: 120), "gnu long name", longName: .gnu)
    t.symlink("l", target: String(repeating: "k", count: 130), longName: .gnu)
    t.file(String(repeating: "p", count: 90) + "/" + String(repeating: "q", count: 60), "ustar prefix", longName: .ustarPrefix)
}))

layers.append(("sparse-1.0", TarBuilder.tar { t in
    t.sparseFile("sparse", realSize: 8192, regions: [(0, Array("head".utf8)), (4096, Array("middle".utf8))])
}))

layers.append(("sparse-old-gnu", TarBuilder.tar { t in
    let regions = (0..<6).map { (offset: Int64($0) * 1024, bytes: [UInt8](repeating: UInt8(0x41 + $0), count: 3)) }
    t.sparseFile("old", realSize: 7000, regions: regions, format: .oldGNU)
}))

layers.append(("sparse-0.1", TarBuilder.tar { t in
    var e = TarEntry("GNUSparseFile.0/s", typeflag: TarTypeflag.regular, body: "abcdef")
    e.paxRecords = [PaxRecord("GNU.sparse.major", "0"), PaxRecord("GNU.sparse.minor", "1"),
                    PaxRecord("GNU.sparse.name", "s01"), PaxRecord("GNU.sparse.realsize", "3000"),
                    PaxRecord("GNU.sparse.map", "0,3,2000,3")]
    t.entry(e)
}))

layers.append(("numbers", TarBuilder.tar { t in
    t.file("old", "o", mtime: -86_400)
    t.file("far", "f", mtime: 1 << 40)
    t.file("uid", "u", uid: 1 << 40)
    var e = TarEntry("explicit", typeflag: TarTypeflag.regular, body: "e")
    e.overrides.mode = .base256(0o644)
    e.overrides.uid = .raw(Array("7 ".utf8))
    t.entry(e)
    t.entry(TarEntry("legacy-dir/", typeflag: TarTypeflag.legacyRegular))
}))

let lower = TarBuilder.tar { t in
    t.dir("a/")
    t.file("a/keep", "k")
    t.file("a/gone", "g")
    t.dir("b/")
    t.file("b/old", "o")
    t.symlink("c", target: "a")
    t.file("d", "d")
}
let upper = TarBuilder.tar { t in
    t.whiteout("a/.wh.gone")
    t.opaque("b/")
    t.file("b/new", "n")
    t.file("c/through-symlink", "s")
    t.dir("d/")
    t.hardlink("e", target: "a/keep")
}
let separator = Array("IMGSYNC-FUZZ-NEXT-LAYER".utf8)

for (name, layer) in layers {
    write("tar", name, layer)
    write("apply", name, layer)
}
write("tar", "sparse-1.0-as-holes", layers[3].1, option: wholeChunks | 0b100)
write("apply", "whiteouts-two-layers", lower + separator + upper)
write("apply", "every-type-copy-mode", layers[0].1, option: wholeChunks | 0b10)

// MARK: compressed streams

let small = layers[0].1
write("gzip", "one-member", LayerCompressors.gzip(small))
write("gzip", "every-header-field", LayerCompressors.gzipMember(
    small, extra: [0x41, 0x42, 2, 0, 1, 2], fileName: Array("layer.tar".utf8), comment: Array("c".utf8), headerCRC: true))
write("gzip", "two-members", LayerCompressors.gzip(Array(small.prefix(1024))) + LayerCompressors.gzip(Array(small.dropFirst(1024))))
write("gzip", "stored-blocks", LayerCompressors.gzip(Array(small.prefix(2048)), level: 0))
write("gzip", "split-1-byte", LayerCompressors.gzip(Array(small.prefix(1536))), option: 0)
write("gzip-header", "minimal", Array(LayerCompressors.gzip(Array("x".utf8)).prefix(10)))
write("gzip-header", "every-field", Array(LayerCompressors.gzipMember(
    [], extra: [0x41, 0x42, 2, 0, 1, 2], fileName: Array("name".utf8), comment: Array("comment".utf8), headerCRC: true).prefix(40)))
write("gzip-header", "every-field-split", Array(LayerCompressors.gzipMember(
    [], extra: [1, 2, 3], fileName: Array("n".utf8), headerCRC: true).prefix(24)), option: 0)
write("zstd", "one-frame", LayerCompressors.zstd(small))
write("zstd", "no-checksum", LayerCompressors.zstd(Array(small.prefix(1024)), checksum: false))
write("zstd", "skippable-then-frame", LayerCompressors.zstdSkippableFrame(payloadSize: 16) + LayerCompressors.zstd(Array(small.prefix(512))))
write("zstd", "two-frames-split", LayerCompressors.zstd(Array(small.prefix(700))) + LayerCompressors.zstd(Array(small.suffix(700))), option: 3 << 5)
// MARK: webhook bodies (target webhook): what distribution and Harbor send

let manifestDigest = "sha256:" + String(repeating: "ab", count: 32)
write("webhook", "distribution-push", Array("""
{"events":[{"id":"e1","timestamp":"2026-01-01T00:00:00Z","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json",\
"size":428,"digest":"\(manifestDigest)","length":428,"repository":"org/app","url":"https://r.example:5000/v2/org/app/manifests/\(manifestDigest)",\
"tag":"v1.2"},"request":{"id":"r1","addr":"10.0.0.1:4000","host":"r.example:5000","method":"PUT","useragent":"skopeo"},"actor":{},\
"source":{"addr":"r:5000","instanceID":"i"}},{"action":"push","target":{"mediaType":"application/octet-stream","digest":"\(manifestDigest)",\
"repository":"org/app"},"request":{"host":"r.example:5000"}},{"action":"pull","target":{"repository":"org/app","tag":"1"},"request":{"host":"r.example"}}]}
""".utf8))
write("webhook", "distribution-digest", Array("""
{"events":[{"action":"push","target":{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"\(manifestDigest)","repository":"a/b"},\
"request":{"host":"Registry-1.Docker.IO:443"}}]}
""".utf8))
write("webhook", "harbor-push", Array("""
{"type":"PUSH_ARTIFACT","occur_at":1700000000,"operator":"admin","event_data":{"resources":[{"digest":"\(manifestDigest)","tag":"1.0",\
"resource_url":"harbor.example.org/osg/worker:1.0"},{"resource_url":"harbor.example.org/osg/worker@\(manifestDigest)"}],\
"repository":{"date_created":1,"name":"worker","namespace":"osg","repo_full_name":"osg/worker","repo_type":"public"}}}
""".utf8))
write("webhook", "harbor-other", Array(#"{"type":"DELETE_ARTIFACT","event_data":{}}"#.utf8))

print("seed corpus written to \(out)")
