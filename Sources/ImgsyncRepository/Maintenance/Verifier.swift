#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Checks the repository against itself (docs/design.md §5 `verify`): every object's body against its name,
/// every image tree against its image catalog (with the documented on-disk normalisation,
/// docs/on-disk-format.md). With `repair`, deletes corrupt objects and rebuilds differing trees from
/// their catalog and the object store, swapping the rebuilt tree in atomically.
///
/// The caller must hold the repository lock (`Repository.lock`).
public struct Verifier {
    public var repository: Repository
    public var repair = false
    /// Differences listed per image; the rest are counted in one summary problem.
    public var maxDifferencesPerImage = 200
    /// Called with progress and each problem as found (for the log).
    public var log: (String) -> Void = { _ in }

    public init(repository: Repository) {
        self.repository = repository
    }

    struct InodeKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    public func run() throws -> VerifyReport {
        var report = VerifyReport()
        let objectInodes = checkObjects(&report)

        var namesByImage: [Digest: [String]] = [:]
        for n in repository.publishedNames() { namesByImage[n.imageID, default: []].append(n.name) }
        let ids = Set(repository.treeIDs()).union(namesByImage.keys).sorted()
        var goodObjects = Set(objectInodes.values)
        for id in ids {
            let label = Verifier.label(id, namesByImage[id] ?? [])
            report.treesChecked += 1
            let catalog: [CatalogEntry]
            do {
                catalog = try repository.readCatalog(image: id)
            } catch {
                add(&report, VerifyProblem(.missingCatalog, image: label, "\(error); the tree can be neither checked nor rebuilt: re-sync the image, or unpublish it and let gc remove the tree"))
                continue
            }
            let record = try? repository.readImageRecord(id)
            var intact: [Digest: PathBytes] = [:]
            var found = checkTree(id, catalog: catalog, linkMode: record?.linkMode, worldReadable: record?.worldReadable ?? false, objectInodes: objectInodes, label: label,
                                  report: &report, intact: &intact)

            // Bodies the catalog needs that the store lacks: restored from a tree file that holds them.
            var missing = missingObjects(catalog, goodObjects)
            for (path, d) in missing {
                guard let source = intact[d], !goodObjects.contains(d) else { continue }
                var p = VerifyProblem(.missingObject, image: label, path: path, "the object store has no intact body \(d) for this path")
                if repair {
                    do {
                        try restoreObject(d, tree: id, path: source, shared: isShared(record, id, objectInodes))
                        goodObjects.insert(d)
                        p.repaired = true
                        p.message += "; restored from the tree file \"\(source.escapedForDisplay)\""
                    } catch {
                        p.message += "; cannot restore it from \"\(source.escapedForDisplay)\": \(error)"
                    }
                }
                add(&report, p)
            }
            missing = missingObjects(catalog, goodObjects)
            if found.isEmpty {
                // An intact tree whose bodies are gone from the store cannot be rebuilt later.
                var reported = Set<Digest>()
                for (path, d) in missing where reported.insert(d).inserted && intact[d] == nil {
                    add(&report, VerifyProblem(.missingObject, image: label, path: path, "the object store has no intact body \(d) for this path and no tree file holds it; re-sync the image (imgsync sync) before its tree needs a rebuild"))
                }
                continue
            }
            guard repair else {
                for p in found { add(&report, p) }
                continue
            }
            // Metadata changed on an object inode the tree shares: restoring it in place is exact
            // (every file linked to that inode has the same body, mode and mtime by construction).
            if fixSharedInodeMetadata(id, catalog: catalog, worldReadable: record?.worldReadable ?? false, objectInodes: objectInodes) > 0 {
                var recheck = VerifyReport()
                var unused: [Digest: PathBytes] = [:]
                if checkTree(id, catalog: catalog, linkMode: record?.linkMode, worldReadable: record?.worldReadable ?? false, objectInodes: objectInodes, label: label,
                             report: &recheck, intact: &unused).isEmpty {
                    for i in found.indices { found[i].repaired = true }
                    for p in found { add(&report, p) }
                    log("verify: restored the metadata of object inodes in \(label)")
                    continue
                }
            }
            if !missing.isEmpty {
                for p in found { add(&report, p) }
                let first = missing[0]
                add(&report, VerifyProblem(.needsResync, image: label, "cannot rebuild the tree: \(missing.count) bod\(missing.count == 1 ? "y is" : "ies are") missing from the object store or corrupt (first: \(first.1) for \"\(first.0)\"); verify has no registry access: re-sync the image (imgsync sync) to fetch them again"))
                continue
            }
            do {
                try rebuild(id, catalog: catalog, record: record, objectInodes: objectInodes)
                var recheck = VerifyReport()
                var unused: [Digest: PathBytes] = [:]
                let after = checkTree(id, catalog: catalog, linkMode: record?.linkMode, worldReadable: record?.worldReadable ?? false, objectInodes: objectInodes, label: label,
                                      report: &recheck, intact: &unused)
                if after.isEmpty {
                    for i in found.indices { found[i].repaired = true }
                    report.treesRebuilt.append(id.hex)
                    log("verify: rebuilt the tree of \(label)")
                }
                for p in found { add(&report, p) }
                for p in after { add(&report, VerifyProblem(.needsResync, image: label, path: p.path, "still differs after the rebuild: \(p.message); re-sync the image")) }
            } catch {
                for p in found { add(&report, p) }
                add(&report, VerifyProblem(.needsResync, image: label, "cannot rebuild the tree from its catalog and the object store: \(error); re-sync the image (imgsync sync)"))
            }
        }
        checkGCIndex(&report)
        countUnlistedBodies(Set(objectInodes.values), &report)
        return report
    }

    /// The GC index must count exactly what its catalogs list: otherwise an incremental GC could
    /// delete a listed body. Removing it is the repair (the next gc rebuilds it by the full pass).
    private func checkGCIndex(_ report: inout VerifyReport) {
        let state = repository.checkGCIndex()
        report.gcIndex = state.description
        guard case .inconsistent(let why) = state else { return }
        var p = VerifyProblem(.gcIndex, path: ".imgsync/gc-index", "\(why); run `imgsync gc --full` (or verify --repair) to rebuild it")
        if repair {
            repository.invalidateGCIndex()
            p.repaired = true
        }
        add(&report, p)
    }

    /// What `gc --full` would find: bodies in the store that no catalog lists (not a problem:
    /// garbage the next GC deletes, or, for bodies the GC index never counted, `gc --full`).
    private func countUnlistedBodies(_ stored: Set<Digest>, _ report: inout VerifyReport) {
        var listed: Set<Digest> = [Digest.empty]
        for key in repository.catalogStamps().keys {
            guard let bodies = try? repository.catalogBodies(key)?.bodies else {
                report.unlistedBodies = nil  // a catalog is unreadable: unknown
                return
            }
            listed.formUnion(bodies)
        }
        report.unlistedBodies = stored.subtracting(listed).count
    }

    static func label(_ id: Digest, _ names: [String]) -> String {
        names.isEmpty ? id.description + " (no name)" : id.description + " (" + names.sorted().joined(separator: ", ") + ")"
    }

    private func add(_ report: inout VerifyReport, _ p: VerifyProblem) {
        report.problems.append(p)
        log("verify: \(p)")
    }

    // MARK: objects

    /// Re-hashes every object; returns the inodes of good objects → their digest.
    private func checkObjects(_ report: inout VerifyReport) -> [InodeKey: Digest] {
        let (objects, strays) = repository.objectScan()
        var good: [InodeKey: Digest] = [:]
        for stray in strays {
            var p = VerifyProblem(.strayFile, path: stray.display, "not an object name (expected <62 hex>, <62 hex>.<mode>.<sec>.<nsec> or <62 hex>.<mode>.<sec>.<nsec>.<n>)")
            if repair {
                do {
                    try repository.removeStray(stray)
                    p.repaired = true
                    report.objectsDeleted.append(stray.display)
                } catch {
                    p.message += "; cannot delete it: \(error)"
                }
            }
            add(&report, p)
        }
        for o in objects {
            report.objectsChecked += 1
            let full = repository.root + "/" + o.relativePath
            let actual: Digest
            do {
                actual = try DiskTree.hashFile(atPath: full)
            } catch {
                add(&report, VerifyProblem(.corruptObject, path: o.relativePath, "cannot be read: \(error)"))
                continue
            }
            report.objectBytesHashed += o.size
            if actual != o.digest {
                var p = VerifyProblem(.corruptObject, path: o.relativePath, "body hashes to \(actual), not to its name \(o.digest)")
                if repair {
                    if unlink(full) == 0 {
                        p.repaired = true
                        report.objectsDeleted.append(o.relativePath)
                    } else {
                        p.message += "; cannot delete it: \(Syscall.errorString(errno))"
                    }
                }
                add(&report, p)
                continue
            }
            checkObjectMetadata(o, full, &report)
            good[InodeKey(device: o.device, inode: o.inode)] = o.digest
        }
        return good
    }

    /// Objects are read-only without set-id bits; a variant carries exactly the mode and mtime its
    /// name records (every tree file linked to it relies on that).
    private func checkObjectMetadata(_ o: ObjectFile, _ full: String, _ report: inout VerifyReport) {
        var st = stat()
        guard lstat(full, &st) == 0 else { return }
        let mode = UInt32(st.st_mode) & 0o7777
        var wantMode = mode & 0o555
        var wantTimes: (Int64, UInt32)?
        if let v = o.variant {
            wantMode = v.mode
            wantTimes = (v.sec, v.nsec)
        }
        var wrong: [String] = []
        if mode != wantMode { wrong.append("mode \(String(mode, radix: 8)), expected \(String(wantMode, radix: 8))") }
        if let t = wantTimes, Int64(st.st_mtim.tv_sec) != t.0 || UInt32(st.st_mtim.tv_nsec) != t.1 {
            wrong.append("mtime \(st.st_mtim.tv_sec).\(Verifier.nanos(UInt32(st.st_mtim.tv_nsec))), expected \(t.0).\(Verifier.nanos(t.1))")
        }
        guard !wrong.isEmpty else { return }
        var p = VerifyProblem(.objectMetadata, path: o.relativePath, wrong.joined(separator: "; "))
        if repair {
            var ok = chmod(full, mode_t(wantMode)) == 0
            if ok, let t = wantTimes {
                var times = [timespec(tv_sec: Int(t.0), tv_nsec: Int(t.1)), timespec(tv_sec: Int(t.0), tv_nsec: Int(t.1))]
                ok = utimensat(AT_FDCWD, full, &times, AT_SYMLINK_NOFOLLOW) == 0
            }
            if ok { p.repaired = true } else { p.message += "; cannot fix it: \(Syscall.errorString(errno))" }
        }
        add(&report, p)
    }

    /// Bodies the catalog needs that no good object holds: (path, digest).
    private func missingObjects(_ catalog: [CatalogEntry], _ good: Set<Digest>) -> [(String, Digest)] {
        var out: [(String, Digest)] = []
        for e in catalog where e.type == .regular && e.size > 0 {
            guard let d = e.sha256 else { continue }
            if !good.contains(d) { out.append((e.path.escapedForDisplay, d)) }
        }
        return out
    }
}

extension Repository {
    /// Removes a stray name under `.objects` (a file or a whole directory, any names).
    func removeStray(_ stray: StrayFile) throws {
        guard let base = try openDirectory(".objects") else { return }
        if let shard = stray.shard {
            let fd = try OwnedDescriptor.directory(at: base.rawValue, shard)
            try TreeRemover.remove(stray.name, in: fd.rawValue)
        } else {
            try TreeRemover.remove(stray.name, in: base.rawValue)
        }
    }
}
