import ImgsyncBase
import Testing
@testable import ImgsyncCore

/// The packed `Inode` record: every field reads back what was set, whether it fits the inline bytes or
/// goes to the extras (ids above 65,535, mode bits above 0o7777, targets, devices, xattrs), and a
/// duplicate is independent of its original.
@Suite struct InodeTests {
    @Test func fieldsReadBackWhatWasSet() {
        let model = TreeModel()
        for type in [CatalogEntryType.directory, .regular, .symlink, .charDevice, .blockDevice, .fifo] {
            for (uid, gid, mode) in [(UInt32(0), UInt32(0), UInt32(0o644)), (65_535, 65_536, 0o7777), (4_000_000_000, 7, 0o177777),
                                     (1, UInt32.max, 0o10000)] {
                let i = model.makeInode(type: type, mode: mode, uid: uid, gid: gid, mtime: -5, mtimeNsec: 999_999_999)
                #expect(i.type == type)
                #expect((i.uid, i.gid, i.mode) == (uid, gid, mode), "\(type) \(uid) \(gid) \(mode)")
                #expect((i.mtime, i.mtimeNsec) == (-5, 999_999_999))
                #expect(i.sha256 == nil && i.linkTarget.isEmpty && i.xattrs.isEmpty && i.devMajor == 0 && i.devMinor == 0)
                // Back to small values: the inline bytes answer again.
                i.uid = 3; i.gid = 4; i.mode = 0o755
                #expect((i.uid, i.gid, i.mode, i.type) == (3, 4, 0o755, type))
                i.type = .regular
                #expect(i.type == .regular && i.mode == 0o755)
            }
        }
    }

    @Test func extrasAndDigestsAreKeptAndCopied() {
        let model = TreeModel()
        let i = model.makeInode(type: .symlink, mode: 0o777)
        i.linkTarget = Array("../target".utf8)
        i.xattrs = [Xattr(name: Array("user.a".utf8), value: [1, 2])]
        i.devMajor = 8; i.devMinor = 1
        i.uid = 100_000
        i.sha256 = Digest.empty
        i.size = 42
        i.implied = true
        let copy = i.duplicate()
        i.linkTarget = Array("elsewhere".utf8)
        i.xattrs = []
        i.uid = 5
        i.sha256 = nil
        #expect(copy.linkTarget == Array("../target".utf8))
        #expect(copy.xattrs == [Xattr(name: Array("user.a".utf8), value: [1, 2])])
        #expect((copy.devMajor, copy.devMinor, copy.uid, copy.size, copy.implied) == (8, 1, 100_000, 42, true))
        #expect(copy.sha256 == Digest.empty)
        #expect(i.sha256 == nil && i.uid == 5 && i.linkTarget == Array("elsewhere".utf8))
        // The zero digest set explicitly is a digest, not an absent one.
        i.sha256 = Digest.zero
        #expect(i.sha256 == Digest.zero)
    }

    /// The record's packed fields: sizes up to 2^40 inline and beyond in the extras, nanoseconds
    /// and `implied` sharing a word without disturbing each other, the digest flag its own byte.
    @Test func packedFieldsKeepTheirValues() {
        let model = TreeModel()
        let i = model.makeInode(type: .regular, mode: 0o644, mtime: 1, mtimeNsec: 999_999_999)
        for size: Int64 in [0, 1, (1 << 32) - 1, 1 << 32, (1 << 40) - 1, 1 << 40, 1 << 62, .max, 12_345] {
            i.size = size
            #expect(i.size == size)
        }
        i.implied = true
        #expect(i.mtimeNsec == 999_999_999 && i.implied)
        i.mtimeNsec = 5
        #expect(i.mtimeNsec == 5 && i.implied)
        i.implied = false
        #expect(i.mtimeNsec == 5 && !i.implied)
        i.sha256 = Digest.empty
        i.size = 1 << 41
        #expect(i.sha256 == Digest.empty && i.size == 1 << 41 && i.mtimeNsec == 5)
        let copy = i.duplicate()
        i.size = 7
        #expect(copy.size == 1 << 41 && i.size == 7)
        #expect(MemoryLayout<TreeModel.InodeRecord>.stride == 64 && MemoryLayout<TreeModel.NodeRecord>.stride == 24)
    }

    /// Records of nodes and inodes that left the tree are reused, and a reused one starts from
    /// what it is given, not from what the last holder left (extras included).
    @Test func releasedRecordsAreReusedClean() {
        let model = TreeModel()
        let dirInode = model.makeInode(type: .directory, mode: 0o755)
        let dir = model.makeNode([], parent: nil, inode: dirInode)
        let inode = model.makeInode(type: .regular, mode: 0o644)
        inode.xattrs = [Xattr(name: Array("user.x".utf8), value: [1])]
        inode.sha256 = Digest.empty
        let node = model.makeNode(Array("file".utf8), parent: dir, inode: inode)
        dir.insert(child: node)
        #expect(inode.links == 1 && dir.child(Array("file".utf8)) == node)
        dir.remove(child: node)
        inode.links -= 1
        model.release(node)
        let again = model.makeInode(type: .fifo, mode: 0o600)
        #expect(again.index == inode.index, "the inode record is reused")
        #expect(again.xattrs.isEmpty && again.sha256 == nil && again.links == 0 && again.type == .fifo)
        let other = model.makeNode(Array("name".utf8), parent: dir, inode: again)
        #expect(other.index == node.index, "the node record is reused")
        #expect(other.name == Array("name".utf8) && other.parent == dir && other.stamp == -1 && other.fd == -1)
        #expect(dir.child(Array("file".utf8)) == nil)
        // An inode still linked from another node keeps its record.
        let shared = model.makeInode(type: .regular, mode: 0o644)
        let a = model.makeNode(Array("a".utf8), parent: dir, inode: shared)
        _ = model.makeNode(Array("b".utf8), parent: dir, inode: shared)
        shared.links -= 1
        model.release(a)
        #expect(model.makeInode(type: .regular, mode: 0).index != shared.index)
    }
}
