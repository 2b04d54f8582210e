import Foundation
import ImgsyncBase
import ImgsyncTestSupport
import Testing
@testable import ImgsyncCore

/// The catalog file format (docs/catalog-format.md): version 3 written, versions 1, 2 and 3 read,
/// damage detected, and the size a path costs on disk.
@Suite struct CatalogCodecTests {
    /// A tree of `directories` × `files` paths of every kind, with the fields a catalog records.
    static func tree(directories: Int, files: Int) -> [CatalogEntry] {
        var entries = [CatalogEntry(path: [], type: .directory, mode: 0o755, mtime: 1_700_000_000)]
        var rng = SplitMix64(seed: 7)
        for d in 0..<directories {
            let dir = Array("usr/share/doc/package-\(d)".utf8)
            entries.append(CatalogEntry(path: dir, type: .directory, mode: 0o755, uid: 0, gid: 0,
                                        mtime: 1_700_000_000 + Int64(d), implied: d % 7 == 0))
            for f in 0..<files {
                let body = (0..<32).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                entries.append(CatalogEntry(path: dir + Array("/file-\(f).txt".utf8), type: .regular, mode: 0o644,
                                            uid: 1000, gid: 1000, mtime: 1_700_000_000, mtimeNsec: UInt32(f),
                                            size: Int64(f * 100), sha256: Digest(sha256: body), linkGroup: f == 1 ? 1 : 0))
            }
            entries.append(CatalogEntry(path: dir + Array("/latest".utf8), type: .symlink, mode: 0o777,
                                        mtime: -86_400, linkTarget: Array("file-0.txt".utf8)))
        }
        entries.append(CatalogEntry(path: Array("dev/null".utf8), type: .charDevice, mode: 0o666, devMajor: 1, devMinor: 3))
        entries.append(CatalogEntry(path: Array("dev/loop0".utf8), type: .blockDevice, mode: 0o660, devMajor: 7))
        entries.append(CatalogEntry(path: Array("run/fifo".utf8), type: .fifo, mode: 0o600))
        entries.append(CatalogEntry(path: [0x62, 0xff, 0x00, 0x0a], type: .regular, mode: 0o4755, size: 0,
                                    sha256: Digest(sha256: [UInt8](repeating: 0xab, count: 32)),
                                    xattrs: [Xattr(name: Array("security.capability".utf8), value: [1, 0, 0, 2, 0xff]),
                                             Xattr(name: Array("user.empty".utf8), value: [])]))
        return entries
    }

    @Test func versionThreeRoundTrips() throws {
        let entries = Self.tree(directories: 20, files: 5)
        let bytes = CatalogCodec.encode(entries)
        #expect(bytes.starts(with: Array("IMGSYNC-CATALOG 3\n".utf8)))
        #expect(try CatalogCodec.decode(bytes) == entries)
        #expect(try CatalogCodec.decode(CatalogCodec.encode([])) == [])
    }

    /// The canonical-object hint (version 3's flags bit 1) round-trips for regular files, is kept
    /// apart from `implied`, is not part of an entry's equality, and is never read into another
    /// type or from an older version; unknown flag bits are refused.
    @Test func theCanonicalObjectHintRoundTripsBesideImplied() throws {
        var entries = Self.tree(directories: 6, files: 4)
        for i in entries.indices where i % 3 == 0 { entries[i].canonicalObject = true }
        let decoded = try CatalogCodec.decode(CatalogCodec.encode(entries))
        #expect(decoded == entries)
        #expect(decoded.map(\.canonicalObject) == entries.map { $0.canonicalObject && $0.type == .regular })
        #expect(decoded.map(\.implied) == entries.map(\.implied))
        #expect(decoded.contains { $0.canonicalObject } && decoded.contains { $0.implied })
        var other = entries[1]
        other.canonicalObject.toggle()
        #expect(other == entries[1], "a hint, not metadata")

        for older in [CatalogCodec.encodeVersion2(entries), CatalogCodec.encodeVersion1(entries)] {
            let read = try CatalogCodec.decode(older)
            #expect(read == entries)
            #expect(!read.contains { $0.canonicalObject })
            #expect(read.map(\.implied) == entries.map(\.implied))
        }
        #expect(CatalogCodec.encodeVersion2(entries).starts(with: Array("IMGSYNC-CATALOG 2\n".utf8)))

        // A record whose flags byte has a bit version 3 does not define.
        var records: [UInt8] = []
        CatalogCodec.append(CatalogEntry(path: Array("f".utf8), type: .regular, mode: 0o644), to: &records)
        let flagsAt = 4 + 1 + 1  // path length, path, type
        records[flagsAt] = 4
        let frame = CatalogCodec.FrameWriter()
        var compressed: [UInt8] = []
        frame.compress(records, into: &compressed, end: true)
        var bytes = CatalogCodec.magic
        withUnsafeBytes(of: UInt64(1).littleEndian) { bytes += $0 }
        withUnsafeBytes(of: UInt64(records.count).littleEndian) { bytes += $0 }
        bytes += compressed
        SHA256Hasher.hash(bytes).withUnsafeBytes { bytes += $0 }
        #expect { try CatalogCodec.decode(bytes) } throws: { error in
            (error as? ImgsyncError)?.code == .catalog && (error as? ImgsyncError)?.message.contains("unknown flags") == true
        }
        records[flagsAt] = 2
        var good = CatalogCodec.magic
        withUnsafeBytes(of: UInt64(1).littleEndian) { good += $0 }
        withUnsafeBytes(of: UInt64(records.count).littleEndian) { good += $0 }
        let frame2 = CatalogCodec.FrameWriter()
        var compressed2: [UInt8] = []
        frame2.compress(records, into: &compressed2, end: true)
        good += compressed2
        SHA256Hasher.hash(good).withUnsafeBytes { good += $0 }
        #expect(try CatalogCodec.decode(good).first?.canonicalObject == true)
    }

    /// More than one compression chunk (1 MiB of records), and the saving that is the point of
    /// compressing (version 2 on).
    @Test func aLargeCatalogSpansChunksAndIsSmaller() throws {
        let entries = Self.tree(directories: 1_000, files: 15)
        let v2 = CatalogCodec.encode(entries)
        let v1 = CatalogCodec.encodeVersion1(entries)
        #expect(v1.count > 2 * CatalogCodec.chunk, "the test must cross chunk boundaries: \(v1.count) bytes")
        #expect(try CatalogCodec.decode(v2) == entries)
        // Paths like these cost ~125 bytes in version 1; what is left in version 2 is mostly the
        // 32 random bytes of each file's SHA-256.
        let perPath = Double(v2.count) / Double(entries.count)
        #expect(perPath < 60, "version 2: \(perPath) bytes a path (version 1: \(Double(v1.count) / Double(entries.count)))")
        #expect(v2.count * 2 < v1.count)
    }

    /// A catalog written to a file as it is encoded (how builds write them: never held in memory)
    /// is the same file as one encoded in memory, also when its compressed bytes span several
    /// writes, and the header and checksum written at the end make it readable.
    @Test func aCatalogWrittenToAFileIsTheSameFile() throws {
        for directories in [0, 3, 5_000] {
            let entries = directories == 0 ? [] : Self.tree(directories: directories, files: 15)
            let path = FileManager.default.temporaryDirectory.path + "/imgsync-catalog-\(UUID().uuidString)"
            defer { unlink(path) }
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0o600)
            try #require(fd >= 0)
            var encoder = CatalogCodec.Encoder(file: fd)
            for e in entries { encoder.add(e) }
            try encoder.finishFile()
            close(fd)
            let written = try #require(FileManager.default.contents(atPath: path))
            let inMemory = CatalogCodec.encode(entries)
            if directories == 5_000 {
                #expect(inMemory.count > 2 * CatalogCodec.chunk, "the test must cross write chunks: \(inMemory.count) bytes")
            }
            #expect(Array(written) == inMemory, "\(directories) directories: \(written.count) bytes written, \(inMemory.count) encoded")
            #expect(try CatalogCodec.decode(Array(written)) == entries)
        }
    }

    /// Repositories written before version 2 keep working.
    /// Nanoseconds are below 10^9 in every catalog imgsync writes; a larger count (a damaged or
    /// foreign catalog) is refused, naming the path, rather than loaded into the model.
    @Test func nanosecondsOfASecondOrMoreAreRefused() throws {
        var entries = Self.tree(directories: 1, files: 2)
        entries[2].mtimeNsec = 999_999_999
        #expect(try CatalogCodec.decode(CatalogCodec.encode(entries)) == entries)
        entries[2].mtimeNsec = 1_000_000_000
        #expect { try CatalogCodec.decode(CatalogCodec.encode(entries)) } throws: { error in
            guard let e = error as? ImgsyncError else { return false }
            return e.code == .catalog && e.message.contains("file-0.txt") && e.message.contains("nanoseconds")
        }
    }

    @Test func versionOneIsStillRead() throws {
        let entries = Self.tree(directories: 3, files: 4)
        let v1 = CatalogCodec.encodeVersion1(entries)
        #expect(v1.starts(with: Array("IMGSYNC-CATALOG 1\n".utf8)))
        #expect(try CatalogCodec.decode(v1) == entries)
    }

    @Test func damageIsDetectedNeverTrusted() throws {
        let entries = Self.tree(directories: 10, files: 10)
        let good = CatalogCodec.encode(entries)
        func rejects(_ bytes: [UInt8], _ words: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(sourceLocation: sourceLocation) { try CatalogCodec.decode(bytes) } throws: { error in
                let e = error as? ImgsyncError
                return e?.code == .catalog && e?.message.contains(words) == true
            }
        }
        var flipped = good
        flipped[good.count / 2] ^= 0x10
        rejects(flipped, "checksum mismatch")
        rejects(Array(good.dropLast(1)), "checksum mismatch")
        rejects(Array(good.prefix(20)), "bad magic")
        var magic = good
        magic[16] = UInt8(ascii: "9")
        rejects(magic, "bad magic")

        // Damage under a checksum that matches (a writer's bug, not the disk's): still refused.
        let header = Array(good[CatalogCodec.magic.count..<(CatalogCodec.magic.count + 16)])
        let frame = Array(good[(CatalogCodec.magic.count + 16)..<(good.count - 32)])
        func sealed(_ frame: [UInt8], header: [UInt8] = header) -> [UInt8] {
            var out = CatalogCodec.magic + header + frame
            SHA256Hasher.hash(out).withUnsafeBytes { out += $0 }
            return out
        }
        #expect(try CatalogCodec.decode(sealed(frame)) == entries, "resealing alone changes nothing")
        rejects(sealed(frame + frame), "not exactly one zstd frame")
        rejects(sealed([0x28, 0xb5, 0x2f, 0xfd] + [UInt8](repeating: 0, count: 40)), "zstd frame")
        // The header: the record count, then the record bytes (u64 little-endian each).
        func changed(count: (UInt64) -> UInt64 = { $0 }, size: (UInt64) -> UInt64 = { $0 }) -> [UInt8] {
            func u64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(header[at + $1]) << (8 * UInt64($1)) } }
            return withUnsafeBytes(of: count(u64(0)).littleEndian, Array.init) + withUnsafeBytes(of: size(u64(8)).littleEndian, Array.init)
        }
        rejects(sealed(frame, header: changed(size: { $0 + 1 })), "not the")
        rejects(sealed(frame, header: changed(size: { $0 - 1 })), "do not decompress")
        rejects(sealed(frame, header: changed(size: { _ in 1 << 40 })), "more than a catalog may hold")
        rejects(sealed(frame, header: changed(count: { $0 - 1 })), "trailing bytes")
        rejects(sealed(frame, header: changed(count: { $0 + 1 })), "truncated catalog")
        var body = frame
        body[body.count - 3] ^= 0xff
        #expect(throws: ImgsyncError.self) { try CatalogCodec.decode(sealed(body)) }
    }
}
