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

    /// Puts a body back into the store from a tree file that was just hashed to `d`. In hardlink
    /// mode the tree file's inode becomes the object again (its metadata is what the tree's files
    /// of that body share); otherwise a read-only copy (a clone where possible) is named.
    func restoreObject(_ d: Digest, from path: String, shared: Bool) throws {
        let object = repository.root + "/" + ObjectStore.relativePath(of: d)
        let shard = String(object.dropLast(63))
        if mkdir(shard, 0o755) != 0 && errno != EEXIST { throw Syscall.failure("create", shard) }
        if shared {
            if link(path, object) != 0 { throw Syscall.failure("link", object) }
            return
        }
        let tmpDir = repository.root + "/.objects/tmp"
        if mkdir(tmpDir, 0o700) != 0 && errno != EEXIST { throw Syscall.failure("create", tmpDir) }
        let tmp = tmpDir + "/" + TemporaryName.next(prefix: "verify-")
        let src = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if src < 0 { throw Syscall.failure("open", path) }
        defer { Syscall.close(src) }
        let dst = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if dst < 0 { throw Syscall.failure("create", tmp) }
        var named = false
        defer {
            Syscall.close(dst)
            if !named { unlink(tmp) }
        }
        var st = stat()
        guard fstat(src, &st) == 0 else { throw Syscall.failure("stat", path) }
        if imgsync_ficlone(dst, src) != 0 && imgsync_copy_file(dst, src, Int64(st.st_size)) != 0 {
            throw Syscall.failure("copy", path)
        }
        // The copy must still hash to the name: the tree file may have changed since it was read.
        guard try DiskTree.hashFile(atPath: tmp) == d else {
            throw ImgsyncError(.corruptObject, "\(path) changed while it was being copied")
        }
        if fchmod(dst, 0o444) != 0 { throw Syscall.failure("chmod", tmp) }
        if imgsync_rename_noreplace(AT_FDCWD, tmp, AT_FDCWD, object) != 0 { throw Syscall.failure("name object", object) }
        named = true
    }

    /// Gives hardlink-mode tree files that are intact object inodes back the mode and mtime their
    /// catalog entry says, in place. Returns how many inodes were changed.
    func fixSharedInodeMetadata(_ id: Digest, catalog: [CatalogEntry], worldReadable: Bool, objectInodes: [InodeKey: Digest]) -> Int {
        let tree = repository.imagePath(id)
        var fixed = 0
        for e in catalog where e.type == .regular && e.size > 0 {
            let path = tree + "/" + String(decoding: e.path, as: UTF8.self)
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG,
                  let d = objectInodes[InodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))], d == e.sha256 else { continue }
            let want = ObjectStore.sharedMode(e.mode, worldReadable: worldReadable)
            let modeWrong = (st.st_mode & 0o7777) != want
            let timeWrong = Int64(st.st_mtim.tv_sec) != e.mtime || UInt32(st.st_mtim.tv_nsec) != e.mtimeNsec
            guard modeWrong || timeWrong else { continue }
            if modeWrong && chmod(path, want) != 0 { continue }
            if timeWrong {
                var times = [timespec(tv_sec: Int(e.mtime), tv_nsec: Int(e.mtimeNsec)), timespec(tv_sec: Int(e.mtime), tv_nsec: Int(e.mtimeNsec))]
                if utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW) != 0 { continue }
            }
            fixed += 1
        }
        return fixed
    }
}
