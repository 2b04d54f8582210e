#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// One file under `.objects/<ab>/`: a canonical object (`<62 hex>`) or a hardlink-mode variant inode
/// (`<62 hex>.<mode octal>.<sec>.<nsec>`, ObjectStore.swift).
public struct ObjectFile: Sendable {
    /// The body's digest, from the name.
    public var digest: Digest
    /// Path relative to the repository root, e.g. `.objects/ab/cdef…`.
    public var relativePath: String
    /// For a variant: the permission bits and mtime its name records.
    public var variant: (mode: UInt32, sec: Int64, nsec: UInt32)?
    public var size: Int64
    public var blocks: Int64
    public var device: UInt64
    public var inode: UInt64
    public var links: Int
    public var isVariant: Bool { variant != nil }
}

extension Repository {
    /// Image ids that have a tree under `.images/<ab>/<rest>`.
    public func treeIDs() -> [Digest] {
        var out: [Digest] = []
        let base = root + "/.images"
        for shard in directoryNames(base) where shard.count == 2 {
            for rest in directoryNames(base + "/" + shard) {
                if let d = try? Digest(parsing: "sha256:" + shard + rest) { out.append(d) }
            }
        }
        return out.sorted()
    }

    /// Image ids that have a catalog under `.imgsync/catalogs/images/`.
    public func imageCatalogIDs() -> [Digest] {
        directoryNames(root + "/.imgsync/catalogs/images").compactMap { try? Digest(parsing: "sha256:" + $0) }.sorted()
    }

    /// Chain ids that have a catalog under `.imgsync/catalogs/chains/`.
    public func chainCatalogIDs() -> [Digest] {
        directoryNames(root + "/.imgsync/catalogs/chains").compactMap { try? Digest(parsing: "sha256:" + $0) }.sorted()
    }

    /// Image ids with a record under `.imgsync/images/`.
    public func imageRecordIDs() -> [Digest] {
        directoryNames(root + "/.imgsync/images").compactMap { name -> Digest? in
            guard name.hasSuffix(".json") else { return nil }
            return try? Digest(parsing: "sha256:" + name.dropLast(5))
        }.sorted()
    }

    /// Every object file, canonical and variant. Names that are neither (temporary files of a dead
    /// writer, strays) are returned in `strays` as paths relative to the root.
    public func objectFiles() -> (objects: [ObjectFile], strays: [String]) {
        var objects: [ObjectFile] = []
        var strays: [String] = []
        let base = root + "/.objects"
        for shard in directoryNames(base) where shard != "tmp" {
            guard shard.count == 2, shard.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                strays.append(".objects/" + shard)
                continue
            }
            for name in directoryNames(base + "/" + shard) {
                let rel = ".objects/" + shard + "/" + name
                var st = stat()
                guard lstat(root + "/" + rel, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG,
                      let parsed = ObjectFile.parse(shard: shard, name: name) else {
                    strays.append(rel)
                    continue
                }
                objects.append(ObjectFile(digest: parsed.0, relativePath: rel, variant: parsed.1, size: Int64(st.st_size),
                                          blocks: Int64(st.st_blocks), device: UInt64(st.st_dev), inode: UInt64(st.st_ino),
                                          links: Int(st.st_nlink)))
            }
        }
        return (objects, strays)
    }

    /// Names in a directory (empty when it cannot be read), sorted.
    func directoryNames(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }
}

extension ObjectFile {
    static func parse(shard: String, name: String) -> (Digest, (mode: UInt32, sec: Int64, nsec: UInt32)?)? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts[0].count == 62, parts[0].allSatisfy({ $0.isHexDigit && !$0.isUppercase }),
              let d = try? Digest(parsing: "sha256:" + shard + parts[0]) else { return nil }
        if parts.count == 1 { return (d, nil) }
        guard parts.count == 4, let mode = UInt32(parts[1], radix: 8), let sec = Int64(parts[2]), let nsec = UInt32(parts[3]) else {
            return nil
        }
        return (d, (mode, sec, nsec))
    }
}
