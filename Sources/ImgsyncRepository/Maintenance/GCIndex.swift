#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The incremental GC's bookkeeping, `.imgsync/gc-index` (docs/on-disk-format.md, "GC index"): the
/// catalogs it has counted, each with the stamp of the file it read, and for every body those
/// catalogs list, how many of them list it. A count of 0 is a released body whose object names are
/// still to be deleted.
///
/// The index is exact for the catalogs it names: a counted catalog that vanished or changed outside
/// GC makes it unusable (`GarbageCollector` then runs the full mark-and-sweep, which rewrites it).
/// Catalogs on disk that it does not name yet are counted by the next GC.
struct GCIndex: Equatable {
    /// A catalog: chain or image, by id.
    struct Key: Hashable, Comparable {
        var chain: Bool
        var id: Digest
        static func < (a: Key, b: Key) -> Bool { a.chain != b.chain ? !a.chain : a.id < b.id }
    }

    /// What identifies one version of a catalog file: an atomic rewrite gets a new inode and mtime.
    struct Stamp: Equatable {
        var inode: UInt64
        var size: Int64
        var sec: Int64
        var nsec: Int64

        init(_ st: stat) {
            inode = UInt64(st.st_ino)
            size = Int64(st.st_size)
            sec = Int64(st.st_mtim.tv_sec)
            nsec = Int64(st.st_mtim.tv_nsec)
        }

        init(inode: UInt64, size: Int64, sec: Int64, nsec: Int64) {
            self.inode = inode
            self.size = size
            self.sec = sec
            self.nsec = nsec
        }
    }

    var catalogs: [Key: Stamp] = [:]
    var counts: [Digest: UInt32] = [:]
    /// Bodies with count 0 (from the header when only the catalogs were read).
    var released = 0

    static let magic: [UInt8] = Array("IMGSGCI1".utf8)
    static let headerSize = 24
    static let catalogRecordSize = 61
    static let bodyRecordSize = 36

    var releasedDigests: [Digest] { counts.compactMap { $0.value == 0 ? $0.key : nil }.sorted() }

    func encode() -> [UInt8] {
        var out = GCIndex.magic
        out.reserveCapacity(GCIndex.headerSize + catalogs.count * GCIndex.catalogRecordSize + counts.count * GCIndex.bodyRecordSize)
        GCIndex.put(&out, UInt32(catalogs.count))
        GCIndex.put(&out, UInt32(counts.values.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }))
        GCIndex.put(&out, UInt64(counts.count))
        for (key, stamp) in catalogs.sorted(by: { $0.key < $1.key }) {
            out.append(key.chain ? 0x63 : 0x69)
            out += key.id.bytes
            GCIndex.put(&out, stamp.inode)
            GCIndex.put(&out, UInt64(bitPattern: stamp.size))
            GCIndex.put(&out, UInt64(bitPattern: stamp.sec))
            GCIndex.put(&out, UInt32(truncatingIfNeeded: stamp.nsec))
        }
        // In dictionary order: sorting millions of digests would cost more than the rest of a run.
        for (digest, count) in counts {
            out += digest.bytes
            GCIndex.put(&out, count)
        }
        return out
    }

    /// Decodes an index; with `catalogsOnly`, `bytes` may end after the catalog records and the
    /// counts are left empty. Throws on anything malformed.
    static func decode(_ bytes: [UInt8], fileSize: Int, catalogsOnly: Bool) throws -> GCIndex {
        func bad(_ why: String) -> ImgsyncError { ImgsyncError(.catalog, "damaged GC index: \(why)") }
        guard bytes.count >= headerSize, Array(bytes[0..<8]) == magic else { throw bad("bad magic") }
        let catalogCount = Int(get32(bytes, 8))
        var index = GCIndex()
        index.released = Int(get32(bytes, 12))
        let bodyCount = get64(bytes, 16)
        guard bodyCount < UInt64(Int.max / bodyRecordSize),
              fileSize == headerSize + catalogCount * catalogRecordSize + Int(bodyCount) * bodyRecordSize else {
            throw bad("its size does not match its header")
        }
        let catalogsEnd = headerSize + catalogCount * catalogRecordSize
        guard bytes.count >= catalogsEnd else { throw bad("truncated") }
        var at = headerSize
        for _ in 0..<catalogCount {
            guard bytes[at] == 0x63 || bytes[at] == 0x69 else { throw bad("unknown catalog kind") }
            let key = Key(chain: bytes[at] == 0x63, id: Digest(sha256: Array(bytes[(at + 1)..<(at + 33)])))
            index.catalogs[key] = Stamp(inode: get64(bytes, at + 33), size: Int64(bitPattern: get64(bytes, at + 41)),
                                        sec: Int64(bitPattern: get64(bytes, at + 49)), nsec: Int64(get32(bytes, at + 57)))
            at += catalogRecordSize
        }
        guard index.catalogs.count == catalogCount else { throw bad("a catalog is named twice") }
        if catalogsOnly { return index }
        guard bytes.count == fileSize else { throw bad("truncated") }
        index.counts.reserveCapacity(Int(bodyCount))
        var zeros = 0
        for _ in 0..<Int(bodyCount) {
            let count = get32(bytes, at + 32)
            if count == 0 { zeros += 1 }
            guard index.counts.updateValue(count, forKey: Digest(sha256: Array(bytes[at..<(at + 32)]))) == nil else {
                throw bad("a body is counted twice")
            }
            at += bodyRecordSize
        }
        guard zeros == index.released else { throw bad("the released count does not match") }
        return index
    }

    private static func put<T: FixedWidthInteger>(_ out: inout [UInt8], _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { out += $0 }
    }

    private static func get32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
    }

    private static func get64(_ b: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * $1) }
    }
}

extension Repository {
    public var gcIndexPath: String { root + "/.imgsync/gc-index" }  // as in invalidateGCIndex(root:)

    /// The GC index; nil when there is none. With `catalogsOnly`, only the header and the catalog
    /// records are read (what a run that releases nothing needs).
    func readGCIndex(catalogsOnly: Bool) throws -> GCIndex? {
        try withOpenFile(gcIndexPath) { fd, st in try readGCIndex(fd, size: Int(st.st_size), catalogsOnly: catalogsOnly) }
    }

    private func readGCIndex(_ fd: Int32, size: Int, catalogsOnly: Bool) throws -> GCIndex {
        var want = size
        if catalogsOnly {
            var header = [UInt8](repeating: 0, count: GCIndex.headerSize)
            guard readFully(fd, &header, at: 0) == header.count else { throw ImgsyncError(.catalog, "\(gcIndexPath): damaged GC index: truncated") }
            let catalogCount = Int(header[8]) | Int(header[9]) << 8 | Int(header[10]) << 16 | Int(header[11]) << 24
            want = min(size, GCIndex.headerSize + catalogCount * GCIndex.catalogRecordSize)
        }
        var bytes = [UInt8](repeating: 0, count: want)
        guard readFully(fd, &bytes, at: 0) == want else { throw ImgsyncError(.catalog, "\(gcIndexPath): damaged GC index: truncated") }
        do {
            return try GCIndex.decode(bytes, fileSize: size, catalogsOnly: catalogsOnly)
        } catch let e as ImgsyncError {
            throw ImgsyncError(.catalog, "\(gcIndexPath): \(e.message)")
        }
    }

    /// Opens `path` read-only and passes the descriptor and its stat; nil when there is no such file.
    private func withOpenFile<R>(_ path: String, _ body: (Int32, stat) throws -> R) throws -> R? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw Syscall.failure("open", path)
        }
        defer { Syscall.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Syscall.failure("stat", path) }
        return try body(fd, st)
    }

    private func readFully(_ fd: Int32, _ buffer: inout [UInt8], at offset: Int) -> Int {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(offset + done)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            done += n
        }
        return done
    }

    /// Writes the GC index atomically (temp name, rename); `durable` syncs the file and the rename
    /// too (before catalogs and objects it released are deleted). The rewrite after the deletions,
    /// which only drops bodies already gone, skips the two syncs: if it is lost, the older index is
    /// still exact, and a damaged one only makes the next run full.
    func writeGCIndex(_ index: GCIndex, durable: Bool = true) throws {
        guard durable else {
            let tmp = gcIndexPath + "." + TemporaryName.next(prefix: "tmp-")
            do {
                try Data(index.encode()).write(to: URL(fileURLWithPath: tmp))
            } catch {
                unlink(tmp)
                throw ImgsyncError(.io, "cannot write the GC index (\(tmp)): \(Repository.reason(error))")
            }
            if rename(tmp, gcIndexPath) != 0 {
                let e = Syscall.failure("rename", tmp)
                unlink(tmp)
                throw e
            }
            return
        }
        try writeAtomically(gcIndexPath, index.encode(), what: "the GC index")
        if let dir = try? openDirectory(".imgsync") { _ = fsync(dir.rawValue) }
    }

    /// Removes the GC index, so that the next GC runs the full mark-and-sweep and rebuilds it.
    func invalidateGCIndex() {
        Repository.invalidateGCIndex(root: root)
    }

    /// `invalidateGCIndex` for the repository at `root` (a process that died while building may
    /// have stored bodies no catalog lists, which only the full pass finds).
    public static func invalidateGCIndex(root: String) {
        _ = unlink(root + "/.imgsync/gc-index")
    }

    /// Every catalog file with its stamp (lstat only; nothing is read).
    func catalogStamps() -> [GCIndex.Key: GCIndex.Stamp] {
        var out: [GCIndex.Key: GCIndex.Stamp] = [:]
        for (chain, dir) in [(true, ".imgsync/catalogs/chains/"), (false, ".imgsync/catalogs/images/")] {
            for name in directoryNames(dir) {
                guard let id = try? Digest(parsing: "sha256:" + name) else { continue }
                var st = stat()
                guard lstat(root + "/" + dir + name, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
                out[GCIndex.Key(chain: chain, id: id)] = GCIndex.Stamp(st)
            }
        }
        return out
    }

    func catalogPath(_ key: GCIndex.Key) -> String { key.chain ? chainCatalogPath(key.id) : imageCatalogPath(key.id) }

    /// The distinct bodies a catalog lists, with the stamp of the file read; nil when it is gone.
    func catalogBodies(_ key: GCIndex.Key) throws -> (stamp: GCIndex.Stamp, bodies: Set<Digest>)? {
        let path = catalogPath(key)
        return try withOpenFile(path) { fd, st in try catalogBodies(fd, st, path: path) }
    }

    private func catalogBodies(_ fd: Int32, _ st: stat, path: String) throws -> (stamp: GCIndex.Stamp, bodies: Set<Digest>) {
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        guard readFully(fd, &bytes, at: 0) == bytes.count else { throw ImgsyncError(.catalog, "\(path): catalog is shorter than its size") }
        var bodies = Set<Digest>()
        do {
            for e in try CatalogCodec.decode(bytes) where e.type == .regular {
                if let d = e.sha256 { bodies.insert(d) }
            }
        } catch let e as ImgsyncError {
            throw ImgsyncError(.catalog, "\(path): \(e.message)", cause: e)
        }
        return (GCIndex.Stamp(st), bodies)
    }
}
