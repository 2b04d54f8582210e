#if canImport(Glibc)
import Glibc
#endif
import CImgsyncSys

extension LayerApplier {
    /// Writes a regular file: never through an existing name (unlink first, never O_TRUNC), body
    /// hashed, then chmod, then times (D9). Bodies that fit the in-memory window go to the writer
    /// thread, which links (or clones) a body the store already holds instead of writing it; larger
    /// bodies are hashed while they stream to disk here.
    func writeRegular(_ parent: TreeNode, _ name: PathBytes, _ entry: TarEntry, _ reader: TarReader, directoryFd: Int32? = nil) throws {
        // The reader never returns a negative size; a capacity below is derived from it.
        guard entry.size >= 0 else { throw ImgsyncError(.tarFormat, "negative file size \(entry.size)") }
        if let existing = parent.child(name) { try remove(existing) }
        let inode = model.makeInode(type: .regular, mode: 0)
        setAttributes(inode, from: entry)
        inode.size = entry.size
        let diskMode = store.fileMode(inode.mode)
        func dfd() throws -> Int32 { try directoryFd ?? dirFd(parent) }

        if entry.size <= Int64(smallFileLimit) {
            // Small bodies (and empty files) go to the writer thread: read here, hashed and written there.
            let size = Int(entry.size)
            var filled = 0
            let body = try [UInt8](unsafeUninitializedCapacity: size) { buf, count in
                try reader.readBody { chunk in
                    guard filled + chunk.count <= size else {
                        throw ImgsyncError(.tarFormat, "body longer than its declared size")
                    }
                    UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buf)[filled..<(filled + chunk.count)])
                        .copyMemory(from: chunk)
                    filled += chunk.count
                }
                count = filled
            }
            guard body.count == size else { throw ImgsyncError(.truncated, "body shorter than its declared size") }
            try writer.submit(FileWriter.Job(dirfd: try dfd(), name: name, body: body, inode: inode,
                                             diskMode: diskMode, entry: entry.name))
        } else {
            let fd = try FileOps.create(try dfd(), name)
            defer { Syscall.close(fd) }
            // Holes of a sparse entry stay holes: hashed as zeros, skipped on disk, and the size set
            // at the end in case the file ends in one.
            var holes = false
            try reader.readBody(data: { chunk in
                hasher.update(chunk)
                try Syscall.writeAll(fd, chunk)
            }, hole: { length in
                try TarReader.zeroChunks(length) { hasher.update($0) }
                try Syscall.skip(fd, length)
                holes = true
            })
            if holes { try Syscall.truncate(fd: fd, entry.size) }
            let digest = hasher.finalize()
            inode.sha256 = digest
            for w in try FileOps.finishAndAdopt(fd: fd, digest, size: entry.size, inode, diskMode: diskMode, entry: entry.name,
                                                store: store, dirfd: try dfd(), name: name) {
                warn(w)
            }
        }
        try add(makeNode(name, parent: parent, inode: inode), to: parent)
    }
}
