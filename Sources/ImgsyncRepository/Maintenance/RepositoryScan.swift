#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// One file under `.objects/<ab>/`: a canonical object (`<62 hex>`), a hardlink-mode variant inode
/// (`<62 hex>.<mode octal>.<sec>.<nsec>`), or an inode continuing one that reached the hard-link
/// limit (`<62 hex>.<mode octal>.<sec>.<nsec>.<n>`, ObjectStore+Shared.swift).
public struct ObjectFile: Sendable {
    /// The body's digest, from the name.
    public var digest: Digest
    /// Path relative to the repository root, e.g. `.objects/ab/cdef…`.
    public var relativePath: String
    /// For a variant: the permission bits and mtime its name records.
    public var variant: (mode: UInt32, sec: Int64, nsec: UInt32)?
    /// For an inode that continues a full one: its number `n` (≥ 1) in the name; 0 otherwise.
    public var continuation = 0
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
        for shard in directoryNames(".images") where shard.count == 2 {
            for rest in directoryNames(".images/" + shard) {
                if let d = try? Digest(parsing: "sha256:" + shard + rest) { out.append(d) }
            }
        }
        return out.sorted()
    }

    /// Image ids that have a catalog under `.imgsync/catalogs/images/`.
    public func imageCatalogIDs() -> [Digest] {
        directoryNames(".imgsync/catalogs/images").compactMap { try? Digest(parsing: "sha256:" + $0) }.sorted()
    }

    /// Chain ids that have a catalog under `.imgsync/catalogs/chains/`.
    public func chainCatalogIDs() -> [Digest] {
        directoryNames(".imgsync/catalogs/chains").compactMap { try? Digest(parsing: "sha256:" + $0) }.sorted()
    }

    /// Image ids with a record under `.imgsync/images/`.
    public func imageRecordIDs() -> [Digest] {
        directoryNames(".imgsync/images").compactMap { name -> Digest? in
            guard name.hasSuffix(".json") else { return nil }
            return try? Digest(parsing: "sha256:" + name.dropLast(5))
        }.sorted()
    }

    /// Every object file, canonical and variant. Names that are neither (temporary files of a dead
    /// writer, strays) are returned in `strays` as paths relative to the root (bytes shown escaped).
    public func objectFiles() -> (objects: [ObjectFile], strays: [String]) {
        let scan = objectScan()
        return (scan.objects, scan.strays.map(\.display))
    }

    /// A name under `.objects` that is no object: where it is, as bytes, for removal.
    struct StrayFile {
        /// The shard directory's name, or nil for a stray directly in `.objects`.
        var shard: PathBytes?
        var name: PathBytes
        /// The path relative to the root, escaped for messages.
        var display: String
    }

    /// `objectFiles`, with strays as bytes.
    func objectScan() -> (objects: [ObjectFile], strays: [StrayFile]) {
        var objects: [ObjectFile] = []
        var strays: [StrayFile] = []
        guard let base = try? openDirectory(".objects"), let shards = try? DirectoryListing.names(of: base.rawValue, sorted: true) else {
            return ([], [])
        }
        let tmp = Array("tmp".utf8)
        for shardBytes in shards where shardBytes != tmp {
            guard shardBytes.count == 2, shardBytes.allSatisfy(Repository.isLowerHex),
                  let shardFd = try? OwnedDescriptor.directory(at: base.rawValue, shardBytes) else {
                strays.append(StrayFile(shard: nil, name: shardBytes, display: ".objects/" + shardBytes.escapedForDisplay))
                continue
            }
            let shard = String(decoding: shardBytes, as: UTF8.self)
            for name in (try? DirectoryListing.names(of: shardFd.rawValue, sorted: true)) ?? [] {
                let display = ".objects/" + shard + "/" + name.escapedForDisplay
                var st = stat()
                guard name.withCString({ fstatat(shardFd.rawValue, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0, (st.st_mode & S_IFMT) == S_IFREG,
                      let text = String(validating: name, as: UTF8.self), let parsed = ObjectFile.parse(shard: shard, name: text) else {
                    strays.append(StrayFile(shard: shardBytes, name: name, display: display))
                    continue
                }
                objects.append(ObjectFile(digest: parsed.digest, relativePath: display, variant: parsed.variant, continuation: parsed.continuation,
                                          size: Int64(st.st_size), blocks: Int64(st.st_blocks), device: UInt64(st.st_dev),
                                          inode: UInt64(st.st_ino), links: Int(st.st_nlink)))
            }
        }
        return (objects, strays)
    }

    static func isLowerHex(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) }

    /// Names in a directory of the repository (relative to the root; empty when it cannot be read),
    /// sorted. Names that are not UTF-8 are left out: they are none of the repository's own names.
    func directoryNames(_ relative: String) -> [String] {
        guard let fd = try? openDirectory(relative), let names = try? DirectoryListing.names(of: fd.rawValue, sorted: true) else { return [] }
        return names.compactMap { String(validating: $0, as: UTF8.self) }
    }
}

extension ObjectFile {
    /// Parses `<62 hex>`, `<62 hex>.<mode octal>.<sec>.<nsec>` and `<62 hex>.<mode octal>.<sec>.<nsec>.<n>` (n ≥ 1).
    static func parse(shard: String, name: String) -> (digest: Digest, variant: (mode: UInt32, sec: Int64, nsec: UInt32)?, continuation: Int)? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts[0].count == 62, parts[0].allSatisfy({ $0.isHexDigit && !$0.isUppercase }),
              let d = try? Digest(parsing: "sha256:" + shard + parts[0]) else { return nil }
        if parts.count == 1 { return (d, nil, 0) }
        guard parts.count == 4 || parts.count == 5, let mode = UInt32(parts[1], radix: 8), let sec = Int64(parts[2]), let nsec = UInt32(parts[3]) else {
            return nil
        }
        var continuation = 0
        if parts.count == 5 {
            // Written by ObjectStore.chainName: decimal without sign or leading zeros.
            guard let n = Int(parts[4]), n >= 1, String(n) == parts[4] else { return nil }
            continuation = n
        }
        return (d, (mode, sec, nsec), continuation)
    }
}
