import ImgsyncBase
import Testing
@testable import ImgsyncCore

/// The packed `Inode`: every field reads back what was set, whether it fits the inline bytes or
/// goes to the extras (ids above 65,535, mode bits above 0o7777, targets, devices, xattrs), and a
/// duplicate is independent of its original.
@Suite struct InodeTests {
    @Test func fieldsReadBackWhatWasSet() {
        for type in [CatalogEntryType.directory, .regular, .symlink, .charDevice, .blockDevice, .fifo] {
            for (uid, gid, mode) in [(UInt32(0), UInt32(0), UInt32(0o644)), (65_535, 65_536, 0o7777), (4_000_000_000, 7, 0o177777),
                                     (1, UInt32.max, 0o10000)] {
                let i = Inode(type: type, mode: mode, uid: uid, gid: gid, mtime: -5, mtimeNsec: 999_999_999)
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
        let i = Inode(type: .symlink, mode: 0o777)
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
}
