#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CImgsyncSys

extension Verifier {
    /// Compares one image's tree on disk with its catalog. Returns the differences (not yet added
    /// to the report); counts paths in `report`. `intact` receives, per body, a tree file that was
    /// read and found to hold it (a source to restore a lost object from).
    func checkTree(_ id: Digest, catalog: [CatalogEntry], linkMode: LinkMode?, worldReadable: Bool = false,
                   objectInodes: [InodeKey: Digest], label: String, report: inout VerifyReport,
                   intact: inout [Digest: PathBytes], hashOwnInodes: Bool = true) -> [VerifyProblem] {
        let treePath = repository.imagePath(id)
        var st = stat()
        guard lstat(treePath, &st) == 0 else {
            return [VerifyProblem(.missingTree, image: label, "the tree \(treePath) is missing")]
        }
        var byPath: [PathBytes: CatalogEntry] = [:]
        byPath.reserveCapacity(catalog.count)
        for e in catalog { byPath[e.path] = e }
        let disk: [PathBytes: DiskEntry]
        do {
            disk = try DiskTree.walk(treePath) { path, entry in
                guard hashOwnInodes, let e = byPath[path], e.type == .regular, e.size > 0, e.size == entry.size else { return false }
                return objectInodes[InodeKey(device: entry.device, inode: entry.inode)] == nil
            }
        } catch {
            return [VerifyProblem(.missingTree, image: label, "cannot read the tree: \(error)")]
        }
        report.pathsChecked += disk.count

        // Hardlink-mode trees share inodes with objects; reflink and copy trees own their inodes.
        let shared: Bool
        if let linkMode {
            shared = linkMode == .hardlink
        } else {
            shared = disk.values.contains { $0.type == .regular && objectInodes[InodeKey(device: $0.device, inode: $0.inode)] != nil }
        }

        var diffs: [(PathBytes, String)] = []
        var groups: [UInt64: (PathBytes, InodeKey)] = [:]
        for e in catalog {
            let recordedOnly = e.type == .charDevice || e.type == .blockDevice || e.type == .fifo
            guard let d = disk[e.path] else {
                if !recordedOnly { diffs.append((e.path, "missing (the catalog has a \(e.type))")) }
                continue
            }
            if let err = d.error { diffs.append((e.path, err)) }
            if recordedOnly {
                diffs.append((e.path, "the catalog records a \(e.type), which is never created on disk, but a \(d.typeName) is there"))
                continue
            }
            guard d.type == e.type else {
                diffs.append((e.path, "is a \(d.typeName) on disk, the catalog has a \(e.type)"))
                continue
            }
            var wantMode = e.mode & 0o7777
            switch e.type {
            case .directory:
                wantMode = UInt32(ObjectStore.directoryMode(e.mode, worldReadable: worldReadable))
            case .regular:
                wantMode = UInt32(ObjectStore.fileMode(e.mode, shared: shared, worldReadable: worldReadable))
                if d.size != e.size {
                    diffs.append((e.path, "size \(d.size), the catalog says \(e.size)"))
                } else if e.size > 0, let want = e.sha256 {
                    let key = InodeKey(device: d.device, inode: d.inode)
                    if let objectDigest = objectInodes[key] {
                        if objectDigest != want { diffs.append((e.path, "is linked to the object of \(objectDigest), the catalog says \(want)")) }
                    } else if let got = d.contentDigest {
                        if got != want {
                            diffs.append((e.path, "content hashes to \(got), the catalog says \(want)"))
                        } else if intact[got] == nil {
                            intact[got] = e.path
                        }
                    }
                }
            case .symlink:
                if d.linkTarget != e.linkTarget {
                    diffs.append((e.path, "links to \"\(d.linkTarget.escapedForDisplay)\", the catalog says \"\(e.linkTarget.escapedForDisplay)\""))
                }
            default:
                break
            }
            if e.type != .symlink && d.mode != wantMode {
                diffs.append((e.path, "mode \(String(d.mode, radix: 8)) on disk, expected \(String(wantMode, radix: 8)) (catalog mode \(String(e.mode, radix: 8)))"))
            }
            if d.mtime != e.mtime || d.mtimeNsec != e.mtimeNsec {
                diffs.append((e.path, "mtime \(d.mtime).\(Verifier.nanos(d.mtimeNsec)) on disk, the catalog says \(e.mtime).\(Verifier.nanos(e.mtimeNsec))"))
            }
            if e.linkGroup != 0 {
                let key = InodeKey(device: d.device, inode: d.inode)
                if let first = groups[e.linkGroup] {
                    if first.1 != key { diffs.append((e.path, "should be a hard link of \"\(first.0.escapedForDisplay)\" but is a separate inode")) }
                } else {
                    groups[e.linkGroup] = (e.path, key)
                }
            }
        }
        for (path, d) in disk where byPath[path] == nil {
            diffs.append((path, "a \(d.typeName) on disk that the catalog does not list"))
        }
        diffs.sort { $0.0.lexicographicallyPrecedes($1.0) }

        var out: [VerifyProblem] = []
        for (path, message) in diffs.prefix(maxDifferencesPerImage) {
            out.append(VerifyProblem(.treeDifference, image: label, path: path.isEmpty ? "/" : path.escapedForDisplay, message))
        }
        if diffs.count > maxDifferencesPerImage {
            out.append(VerifyProblem(.treeDifference, image: label, "\(diffs.count - maxDifferencesPerImage) more differences not listed"))
        }
        return out
    }

    /// Checks one image's tree against its catalog without re-hashing the object store (for the
    /// sync engine's "is the published tree intact?"). Object inodes are found by name (the
    /// canonical object and the variant for each file's metadata) and trusted; files with their own
    /// inode are read and hashed only when `hashContents` is set, otherwise only their size counts.
    public func checkImage(_ id: Digest, hashContents: Bool = false) -> [VerifyProblem] {
        let label = Verifier.label(id, [])
        let catalog: [CatalogEntry]
        do {
            catalog = try repository.readCatalog(image: id)
        } catch {
            return [VerifyProblem(.missingCatalog, image: label, "\(error)")]
        }
        let record = try? repository.readImageRecord(id)
        let worldReadable = record?.worldReadable ?? false
        var objectInodes: [InodeKey: Digest] = [:]
        var probed = Set<PathBytes>()
        let objects = try? repository.openDirectory(".objects")
        var shards: [PathBytes: OwnedDescriptor] = [:]
        for e in catalog where e.type == .regular && e.size > 0 {
            guard let d = e.sha256, let objects else { continue }
            let (shard, rest) = Repository.shardName(d)
            if shards[shard] == nil { shards[shard] = try? OwnedDescriptor.directory(at: objects.rawValue, shard) }
            guard let shardFd = shards[shard] else { continue }
            // The canonical object, the variant for this file's metadata and the inodes that
            // continue it (ObjectStore+Shared.swift), up to the first missing name.
            let variant = rest + Array(".\(String(UInt32(ObjectStore.sharedMode(e.mode, worldReadable: worldReadable)), radix: 8)).\(e.mtime).\(e.mtimeNsec)".utf8)
            if probed.insert(shard + rest).inserted, let st = try? Syscall.lstat(at: shardFd.rawValue, rest) {
                objectInodes[InodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))] = d
            }
            guard probed.insert(shard + variant).inserted else { continue }
            var name = variant
            var k = 1
            while let st = try? Syscall.lstat(at: shardFd.rawValue, name) {
                objectInodes[InodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))] = d
                name = variant + Array(".\(k)".utf8)
                k += 1
            }
        }
        var report = VerifyReport()
        var intact: [Digest: PathBytes] = [:]
        return checkTree(id, catalog: catalog, linkMode: record?.linkMode, worldReadable: worldReadable, objectInodes: objectInodes,
                         label: label, report: &report, intact: &intact, hashOwnInodes: hashContents)
    }

    static func nanos(_ n: UInt32) -> String {
        let s = String(n)
        return String(repeating: "0", count: max(0, 9 - s.count)) + s
    }

    /// Materialises the tree from its catalog and the object store in staging, then swaps it with
    /// the damaged tree in one `renameat2(RENAME_EXCHANGE)` (or renames it in when there is none),
    /// so a reader sees the old tree or the new one, never a partial one.
    func rebuild(_ id: Digest, catalog: [CatalogEntry], record: ImageRecord?, objectInodes: [InodeKey: Digest]) throws {
        let mode: LinkMode
        if let m = record?.linkMode {
            mode = m
        } else if let disk = try? DiskTree.walk(repository.imagePath(id)),
                  disk.values.contains(where: { $0.type == .regular && objectInodes[InodeKey(device: $0.device, inode: $0.inode)] != nil }) {
            mode = .hardlink
        } else {
            mode = .auto
        }
        let builder = try ImageBuilder(repository: repository, linkMode: mode, worldReadable: record?.worldReadable ?? false)
        // A repair trusts no hint: every object is looked at before it is linked.
        try builder.start(from: catalog, diffIDs: record?.diffIDs ?? [], trustHints: false)
        try builder.replaceTree(id, expected: catalog)
    }
}

extension DiskEntry {
    var typeName: String { type?.description ?? "socket or unknown file type" }
}

extension ImageBuilder {
    /// Finishes the tree built from `expected` and puts it in place of the image's tree, in one
    /// `renameat2(RENAME_EXCHANGE)` (or a rename when there is none). The old tree ends up in this
    /// builder's staging directory, which is removed when the builder goes.
    func replaceTree(_ id: Digest, expected: [CatalogEntry]) throws {
        try applier.finish()
        guard applier.snapshot() == expected else {
            throw ImgsyncError(.catalog, "the tree materialised from the catalog of \(id) does not reproduce that catalog")
        }
        // The catalog lists every body of the rebuilt tree (inodes the store had to start anew
        // for full ones included).
        store.commitCreatedObjects()
        let imagePath = repository.imagePath(id)
        let (shard, rest) = Repository.shardName(id)
        let images = try repository.makeDirectory(".images")
        try Syscall.makeDirectory(at: images.rawValue, shard, mode: 0o755)
        let shardFd = try OwnedDescriptor.directory(at: images.rawValue, shard)
        let built = Array("tree".utf8)
        if try Syscall.lstat(at: shardFd.rawValue, rest) != nil {
            if built.withCString({ b in rest.withCString { imgsync_rename_exchange(buildFd.rawValue, b, shardFd.rawValue, $0) } }) != 0 {
                throw Syscall.failure("swap the rebuilt tree into", imagePath)
            }
        } else {
            try Syscall.rename(at: buildFd.rawValue, built, to: shardFd.rawValue, rest, replace: false)
        }
    }
}
