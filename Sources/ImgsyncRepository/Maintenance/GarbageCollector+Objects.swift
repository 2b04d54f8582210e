#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// GC's last step: the planned catalogs, then the objects no remaining catalog lists
/// (docs/design.md §3.7, "Incremental GC").
extension GarbageCollector {
    /// The incremental pass. Reads only the GC index's catalog records and stats the catalog files;
    /// when no catalog was added or is released and no released body waits, that is all. Otherwise
    /// it counts the new catalogs in, the released ones out, writes the index (which no longer counts
    /// them) durably, and only then deletes those catalogs and the bodies whose count reached 0.
    /// Anything that makes the index doubtful hands over to `sweepAll` before anything is written.
    func collectIncrementally(_ plan: Plan, _ report: inout GCReport, _ budget: inout Int) {
        let manifest: GCIndex
        do {
            guard let m = try repository.readGCIndex(catalogsOnly: true) else {
                return sweepAll(plan, &report, &budget, reason: "no GC index yet")
            }
            manifest = m
        } catch {
            return sweepAll(plan, &report, &budget, reason: "\(error)")
        }
        let disk = repository.catalogStamps()
        for (key, stamp) in manifest.catalogs.sorted(by: { $0.key < $1.key }) where disk[key] != stamp {
            let what = disk[key] == nil ? "was deleted" : "was rewritten"
            return sweepAll(plan, &report, &budget, reason: "\(repository.catalogPath(key)) \(what) outside GC")
        }
        let added = disk.keys.filter { manifest.catalogs[$0] == nil }.sorted()
        let releasing = plan.catalogKeys.filter { disk[$0] != nil }
        if added.isEmpty && releasing.isEmpty && manifest.released == 0 {
            _ = deleteCatalogs(plan, &report)  // image records only: they list no bodies
            return
        }

        var index: GCIndex
        var read: [GCIndex.Key: Set<Digest>] = [:]
        let releasingSet = Set(releasing)
        do {
            guard let full = try repository.readGCIndex(catalogsOnly: false) else {
                return sweepAll(plan, &report, &budget, reason: "the GC index vanished")
            }
            index = full
            for key in added {
                guard let (stamp, bodies) = try repository.catalogBodies(key) else { continue }
                report.catalogsRead += 1
                index.catalogs[key] = stamp
                for d in bodies { index.counts[d, default: 0] += 1 }
                if releasingSet.contains(key) { read[key] = bodies }  // new and already released
            }
            for key in releasing {
                let bodies: Set<Digest>
                if let known = read[key] {
                    bodies = known
                } else {
                    guard let (stamp, b) = try repository.catalogBodies(key), stamp == disk[key] else {
                        return sweepAll(plan, &report, &budget, reason: "\(repository.catalogPath(key)) changed while GC read it")
                    }
                    report.catalogsRead += 1
                    bodies = b
                }
                for d in bodies {
                    guard let c = index.counts[d], c > 0 else {
                        return sweepAll(plan, &report, &budget, reason: "the GC index does not count body \(d) of \(repository.catalogPath(key))")
                    }
                    index.counts[d] = c - 1
                }
                index.catalogs[key] = nil
            }
        } catch {
            return sweepAll(plan, &report, &budget, reason: "\(error)")
        }
        // The empty body is never an object (empty files get inodes of their own).
        if index.counts[Digest.empty] == 0 { index.counts[Digest.empty] = nil }
        let released = index.releasedDigests
        if dryRun {
            _ = deleteCatalogs(plan, &report)
            _ = deleteObjects(released, &report, &budget)
            return
        }
        do {
            try repository.writeGCIndex(index)
        } catch {
            // Nothing was deleted: the next run starts again from the old index.
            return fail(&report, "\(error); no catalogs or objects deleted")
        }
        GCFault.point("gc-after-index")
        guard deleteCatalogs(plan, &report) else {
            // A catalog that stayed lists bodies the index no longer counts: the next run counts
            // it in again (it is on disk but not in the index); until then nothing may go.
            return fail(&report, "no objects deleted: a released catalog could not be deleted")
        }
        GCFault.point("gc-after-catalogs")
        let gone = deleteObjects(released, &report, &budget)
        if !gone.isEmpty {
            for d in gone { index.counts[d] = nil }
            do { try repository.writeGCIndex(index, durable: false) } catch { fail(&report, "\(error); the next GC finishes the deletion") }
        }
    }

    /// The full mark-and-sweep: deletes the planned catalogs, reads every remaining catalog (the
    /// mark), writes a new GC index from it that also records the unlisted bodies as released, then
    /// deletes them (the sweep; a run killed midway leaves them to the next incremental pass).
    func sweepAll(_ plan: Plan, _ report: inout GCReport, _ budget: inout Int, reason: String) {
        report.fullReason = reason
        log("gc: full mark-and-sweep: \(reason)")
        if !dryRun { repository.invalidateGCIndex() }
        _ = deleteCatalogs(plan, &report)
        // In a dry run the planned catalogs are still there; what they list counts as gone.
        let planned = dryRun ? Set(plan.catalogKeys) : []
        var index = GCIndex()
        for key in repository.catalogStamps().keys.sorted() where !planned.contains(key) {
            do {
                guard let (stamp, bodies) = try repository.catalogBodies(key) else { continue }
                report.catalogsRead += 1
                index.catalogs[key] = stamp
                for d in bodies { index.counts[d, default: 0] += 1 }
            } catch {
                fail(&report, "\(error)")
                report = finishWithoutObjects(report, "catalog \(repository.catalogPath(key)) is unreadable")
                return
            }
        }
        let objects = repository.objectFiles().objects
        report.objectsExamined += objects.count
        var names: [Digest: Int] = [:]
        for o in objects where o.digest != Digest.empty && index.counts[o.digest] == nil {
            names[o.digest, default: 0] += 1
        }
        for d in names.keys { index.counts[d] = 0 }
        if !dryRun {
            do { try repository.writeGCIndex(index) } catch { fail(&report, "\(error); the next GC runs a full pass again") }
        }
        GCFault.point("gc-full-after-index")
        for object in objects where names[object.digest] != nil {
            guard take(&budget, &report) else { break }
            if remove(repository.root + "/" + object.relativePath, &report) {
                report.objectsDeleted.append(object.relativePath)
                if object.links == 1 { report.bytesFreed += object.size }
                names[object.digest]! -= 1
                GCFault.point("gc-object")
            }
        }
        let gone = names.compactMap { $0.value == 0 ? $0.key : nil }
        if !dryRun && !gone.isEmpty {
            for d in gone { index.counts[d] = nil }
            do { try repository.writeGCIndex(index, durable: false) } catch { fail(&report, "\(error); the next GC finishes the deletion") }
        }
    }

    /// Deletes every object name (canonical, variants, continuations) of the released bodies,
    /// listing only the shards they are in. Returns the bodies none of whose names is left.
    func deleteObjects(_ digests: [Digest], _ report: inout GCReport, _ budget: inout Int) -> [Digest] {
        guard !digests.isEmpty, let base = try? repository.openDirectory(".objects") else { return dryRun ? [] : digests }
        var gone: [Digest] = []
        let byShard = Dictionary(grouping: digests) { String($0.hex.prefix(2)) }
        shards: for shard in byShard.keys.sorted() {
            let wanted = Set(byShard[shard]!)
            // Names are matched on their first 62 bytes (the digest's hex after the shard) before
            // being parsed: most names in a shard belong to other bodies.
            var byRest: [ArraySlice<UInt8>: Digest] = [:]
            for d in wanted { byRest[Array(d.hex.utf8).dropFirst(2)] = d }
            let listing: [PathBytes]
            do {
                listing = try DirectoryListing.names(at: base.rawValue, Array(shard.utf8), sorted: false)
            } catch {
                fail(&report, "cannot list .objects/\(shard): \(error)")
                continue
            }
            report.objectsExamined += listing.count
            var namesOf: [Digest: [PathBytes]] = [:]
            for name in listing where name.count >= 62 {
                guard let d = byRest[name[0..<62]], let text = String(validating: name, as: UTF8.self),
                      ObjectFile.parse(shard: shard, name: text)?.digest == d else { continue }
                namesOf[d, default: []].append(name)
            }
            guard let shardFd = try? OwnedDescriptor.directory(at: base.rawValue, Array(shard.utf8)) else {
                if namesOf.isEmpty { gone += wanted }
                continue
            }
            for d in wanted.sorted() {
                var all = true
                for name in (namesOf[d] ?? []).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                    guard take(&budget, &report) else { break shards }
                    let relative = ".objects/\(shard)/" + name.escapedForDisplay
                    var st = stat()
                    let found = name.withCString { fstatat(shardFd.rawValue, $0, &st, AT_SYMLINK_NOFOLLOW) } == 0
                    if !dryRun && name.withCString({ unlinkat(shardFd.rawValue, $0, 0) }) != 0 && errno != ENOENT {
                        fail(&report, "cannot delete \(repository.root)/\(relative): \(Syscall.errorString(errno))")
                        all = false
                        continue
                    }
                    log("gc: deleted \(repository.root)/\(relative)")
                    report.objectsDeleted.append(relative)
                    if found && st.st_nlink == 1 { report.bytesFreed += Int64(st.st_size) }
                    GCFault.point("gc-object")
                }
                if all { gone.append(d) }
            }
        }
        return gone
    }
}
