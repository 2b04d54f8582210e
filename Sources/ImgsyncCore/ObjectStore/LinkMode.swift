/// How tree files share bodies with the object store (docs/design.md §2 "Bodies once").
public enum LinkMode: String, Sendable, CaseIterable {
    /// reflink when the filesystem supports it, hardlink otherwise.
    case auto
    /// Tree files are hard links to read-only object inodes shared by equal (sha256, mode, mtime).
    case hardlink
    /// Tree files are reflink clones of objects: own inode, exact metadata, no extra data blocks.
    case reflink
    /// Tree files are plain copies (roots inside a CVMFS transaction); objects are still stored.
    case copy
}
