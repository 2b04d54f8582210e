#if canImport(Glibc)
import Glibc
#endif
import CImgsyncSys

extension Verifier {
    /// Whether the image's tree files share inodes with objects (hardlink mode): from the image
    /// record, or, for records without a link mode, from whether any tree file is an object inode.
    func isShared(_ record: ImageRecord?, _ id: Digest, _ objectInodes: [InodeKey: Digest]) -> Bool {
        if let mode = record?.linkMode { return mode == .hardlink }
        guard let disk = try? DiskTree.walk(repository.imagePath(id)) else { return false }
        return disk.values.contains { $0.type == .regular && objectInodes[InodeKey(device: $0.device, inode: $0.inode)] != nil }
    }

    /// Puts a body back into the store from the tree file at `path` of image `id`'s tree, just
    /// hashed to `d`. In hardlink mode the tree file's inode becomes the object again (its metadata
    /// is what the tree's files of that body share); otherwise a read-only copy (a clone where
    /// possible) is named.
    func restoreObject(_ d: Digest, tree id: Digest, path: PathBytes, shared: Bool) throws {
        let (shard, rest) = Repository.shardName(d)
        let objects = try repository.makeDirectory(".objects")
        try Syscall.makeDirectory(at: objects.rawValue, shard, mode: 0o755)
        let shardFd = try OwnedDescriptor.directory(at: objects.rawValue, shard)
        guard let tree = try repository.openTree(id) else { throw ImgsyncError(.io, "the tree \(repository.imagePath(id)) is gone") }
        let (dir, name) = try OwnedDescriptor.parent(of: path, under: tree.rawValue)
        let shown = "\"\(path.escapedForDisplay(limit: 300))\""
        if shared {
            try Syscall.link(from: dir.rawValue, name, to: shardFd.rawValue, rest)
            return
        }
        let tmpDir = try repository.makeDirectory(".objects/tmp")
        let tmp = Array(TemporaryName.next(prefix: "verify-").utf8)
        let src = name.withCString { openat(dir.rawValue, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        if src < 0 { throw Syscall.failure("open", shown) }
        defer { Syscall.close(src) }
        let dst = tmp.withCString { openat(tmpDir.rawValue, $0, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        if dst < 0 { throw Syscall.failure("create", ".objects/tmp/" + tmp.escapedForDisplay) }
        var named = false
        defer {
            Syscall.close(dst)
            if !named { _ = tmp.withCString { unlinkat(tmpDir.rawValue, $0, 0) } }
        }
        var st = stat()
        guard fstat(src, &st) == 0 else { throw Syscall.failure("stat", shown) }
        if imgsync_ficlone(dst, src) != 0 && imgsync_copy_file(dst, src, Int64(st.st_size)) != 0 {
            throw Syscall.failure("copy", shown)
        }
        // The copy must still hash to the name: the tree file may have changed since it was read.
        _ = lseek(dst, 0, SEEK_SET)
        guard try DiskTree.hashFile(dst) == d else {
            throw ImgsyncError(.corruptObject, "\(shown) changed while it was being copied")
        }
        if fchmod(dst, 0o444) != 0 { throw Syscall.failure("chmod", ".objects/tmp/" + tmp.escapedForDisplay) }
        try Syscall.rename(at: tmpDir.rawValue, tmp, to: shardFd.rawValue, rest, replace: false)
        named = true
    }

    /// Gives hardlink-mode tree files that are intact object inodes back the mode and mtime their
    /// catalog entry says, in place. Returns how many inodes were changed.
    func fixSharedInodeMetadata(_ id: Digest, catalog: [CatalogEntry], worldReadable: Bool, objectInodes: [InodeKey: Digest]) -> Int {
        guard let tree = try? repository.openTree(id) else { return 0 }
        var byPath: [PathBytes: CatalogEntry] = [:]
        for e in catalog where e.type == .regular && e.size > 0 { byPath[e.path] = e }
        var fixed = 0
        try? TreeWalker().walk(tree.rawValue, enter: { entry in
            guard entry.isRegular, let e = byPath[entry.path],
                  let d = objectInodes[InodeKey(device: UInt64(entry.status.st_dev), inode: UInt64(entry.status.st_ino))], d == e.sha256 else {
                return true
            }
            let st = entry.status
            let want = ObjectStore.sharedMode(e.mode, worldReadable: worldReadable)
            let modeWrong = (st.st_mode & 0o7777) != want
            let timeWrong = Int64(st.st_mtim.tv_sec) != e.mtime || UInt32(st.st_mtim.tv_nsec) != e.mtimeNsec
            guard modeWrong || timeWrong else { return true }
            // A regular file (fstatat said so, without following): fchmodat cannot follow a symlink here.
            if modeWrong && entry.name.withCString({ fchmodat(entry.parentFd, $0, want, 0) }) != 0 { return true }
            if timeWrong {
                do { try Syscall.setTimes(at: entry.parentFd, entry.name, sec: e.mtime, nsec: e.mtimeNsec) } catch { return true }
            }
            fixed += 1
            return true
        })
        return fixed
    }
}
