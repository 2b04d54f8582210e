/// The catalog file format (docs/catalog-format.md): a magic line, little-endian records, and a
/// trailing SHA-256 of everything before it so that a damaged catalog is detected, never trusted.
public enum CatalogCodec {
    static let magic: [UInt8] = Array("IMGSYNC-CATALOG 1\n".utf8)

    public static func encode(_ entries: [CatalogEntry]) -> [UInt8] {
        // The exact size first: a guess that falls short doubles the buffer, and for a tree of a
        // million small files the catalog is the largest allocation of a build.
        var size = magic.count + 8 + 32
        for e in entries {
            size += 4 + e.path.count + 2 + 12 + 12 + 8 + 1 + (e.sha256 == nil ? 0 : 32) + 4 + e.linkTarget.count + 8 + 8 + 4
            for x in e.xattrs { size += 8 + x.name.count + x.value.count }
        }
        var out: [UInt8] = []
        out.reserveCapacity(size)
        out += magic
        put(&out, UInt64(entries.count))
        for e in entries {
            put(&out, UInt32(e.path.count)); out += e.path
            out.append(e.type.rawValue)
            out.append(e.implied ? 1 : 0)
            put(&out, e.mode); put(&out, e.uid); put(&out, e.gid)
            put(&out, UInt64(bitPattern: e.mtime)); put(&out, e.mtimeNsec)
            put(&out, UInt64(bitPattern: e.size))
            if let d = e.sha256 { out.append(1); d.withUnsafeBytes { out += $0 } } else { out.append(0) }
            put(&out, UInt32(e.linkTarget.count)); out += e.linkTarget
            put(&out, e.linkGroup)
            put(&out, e.devMajor); put(&out, e.devMinor)
            put(&out, UInt32(e.xattrs.count))
            for x in e.xattrs {
                put(&out, UInt32(x.name.count)); out += x.name
                put(&out, UInt32(x.value.count)); out += x.value
            }
        }
        SHA256Hasher.hash(out).withUnsafeBytes { out += $0 }
        assert(out.count == size, "catalog size computed as \(size), written \(out.count)")
        return out
    }

    public static func decode(_ data: [UInt8]) throws -> [CatalogEntry] {
        guard data.count >= magic.count + 8 + 32, Array(data[0..<magic.count]) == magic else {
            throw ImgsyncError(.catalog, "not an imgsync catalog (bad magic)")
        }
        let body = data.count - 32
        let sum = data.withUnsafeBytes { SHA256Hasher.hash(UnsafeRawBufferPointer(rebasing: $0[0..<body])) }
        guard sum.bytes == Array(data[body...]) else {
            throw ImgsyncError(.catalog, "catalog checksum mismatch: the file is damaged")
        }
        var r = Reader(data: data, pos: magic.count, end: body)
        let count = try r.u64()
        var out: [CatalogEntry] = []
        out.reserveCapacity(Int(min(count, 10_000_000)))
        for _ in 0..<count {
            let path = try r.bytes(Int(try r.u32()))
            guard let type = CatalogEntryType(rawValue: try r.u8()) else { throw ImgsyncError(.catalog, "unknown entry type in catalog") }
            let implied = try r.u8() != 0
            var e = CatalogEntry(path: path, type: type)
            e.implied = implied
            e.mode = try r.u32(); e.uid = try r.u32(); e.gid = try r.u32()
            e.mtime = Int64(bitPattern: try r.u64()); e.mtimeNsec = try r.u32()
            e.size = Int64(bitPattern: try r.u64())
            if try r.u8() == 1 { e.sha256 = Digest(sha256: try r.bytes(32)) }
            e.linkTarget = try r.bytes(Int(try r.u32()))
            e.linkGroup = try r.u64()
            e.devMajor = try r.u32(); e.devMinor = try r.u32()
            let nx = try r.u32()
            for _ in 0..<nx {
                let name = try r.bytes(Int(try r.u32()))
                let value = try r.bytes(Int(try r.u32()))
                e.xattrs.append(Xattr(name: name, value: value))
            }
            out.append(e)
        }
        guard r.pos == body else { throw ImgsyncError(.catalog, "trailing bytes in catalog") }
        return out
    }

    private static func put(_ out: inout [UInt8], _ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { out += $0 }
    }

    private static func put(_ out: inout [UInt8], _ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { out += $0 }
    }

    private struct Reader {
        let data: [UInt8]
        var pos: Int
        let end: Int

        mutating func u8() throws -> UInt8 {
            guard pos < end else { throw ImgsyncError(.catalog, "truncated catalog") }
            defer { pos += 1 }
            return data[pos]
        }

        mutating func u32() throws -> UInt32 {
            guard pos + 4 <= end else { throw ImgsyncError(.catalog, "truncated catalog") }
            var v: UInt32 = 0
            for i in 0..<4 { v |= UInt32(data[pos + i]) << (8 * UInt32(i)) }
            pos += 4
            return v
        }

        mutating func u64() throws -> UInt64 {
            guard pos + 8 <= end else { throw ImgsyncError(.catalog, "truncated catalog") }
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(data[pos + i]) << (8 * UInt64(i)) }
            pos += 8
            return v
        }

        mutating func bytes(_ n: Int) throws -> [UInt8] {
            guard n >= 0, pos + n <= end else { throw ImgsyncError(.catalog, "truncated catalog") }
            defer { pos += n }
            return Array(data[pos..<(pos + n)])
        }
    }
}
