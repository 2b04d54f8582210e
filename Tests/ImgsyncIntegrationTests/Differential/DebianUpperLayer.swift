import ImgsyncTestSupport

/// The crafted second layer of the differential test, applied on top of a `debootstrap --variant=minbase
/// bookworm` rootfs. Every entry exercises a rule on which imgsync and umoci agree
/// (docs/conformance.md rows marked `diff`); the paths it acts on in the lower layer are listed in
/// `lowerPaths` and checked against the rootfs tarball before anything is applied.
enum DebianUpperLayer {
    /// mtime of the entries this layer writes: 2023-11-14T22:13:20Z.
    static let t1: Int64 = 1_700_000_000
    /// Lower-layer paths (as in the rootfs tar, without `./`) with the tar typeflag the layer relies on.
    static let lowerPaths: [(path: String, typeflag: UInt8)] = [
        ("etc/motd", TarTypeflag.regular),
        ("etc/issue", TarTypeflag.regular),
        ("etc/issue.net", TarTypeflag.regular),
        ("etc/debian_version", TarTypeflag.regular),
        ("etc/hostname", TarTypeflag.regular),
        ("etc/skel", TarTypeflag.directory),
        ("etc/skel/.bashrc", TarTypeflag.regular),
        ("etc/apt/apt.conf.d", TarTypeflag.directory),
        ("etc/apt/apt.conf.d/01autoremove", TarTypeflag.regular),
        ("usr/share/doc/bash", TarTypeflag.directory),
        ("usr/share/doc/bash/copyright", TarTypeflag.regular),
        ("usr/share/doc/apt", TarTypeflag.directory),
        ("usr/share/doc/sed", TarTypeflag.directory),
        ("usr/bin/perl", TarTypeflag.regular),
        ("usr/bin/perl5.36.0", TarTypeflag.hardlink),
        ("usr/bin/gunzip", TarTypeflag.regular),
        ("usr/bin/uncompress", TarTypeflag.hardlink),
        ("usr/bin/dash", TarTypeflag.regular),
        ("bin", TarTypeflag.symlink),
        ("var/log", TarTypeflag.directory),
        ("srv", TarTypeflag.directory),
    ]

    static let longDir = "opt/app/" + String(repeating: "long-directory-", count: 8)  // 128 bytes
    static let longFile = longDir + "/" + String(repeating: "f", count: 130)  // PAX path, 259 bytes
    static let gnuName = "opt/app/gnu-" + String(repeating: "g", count: 140)  // GNU L record
    static let longHardlink = "opt/app/hardlink-" + String(repeating: "h", count: 110)
    static let longTarget = "/" + longFile  // PAX linkpath, 260 bytes
    static let dataBody = (0..<65_536).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
    static let profileBody = "# replaced by the differential test's upper layer\n"
    static let aptConfBody = "APT::Install-Recommends \"false\";\n"
    static let issueBody = "imgsync differential test\n"
    static let nfcName = "opt/app/caf\u{E9}"
    static let nfdName = "opt/app/cafe\u{301}"
    static let latin1Name: [UInt8] = Array("opt/app/caf".utf8) + [0xE9]
    static let nanoseconds = 123_456_789
    static let dirNanoseconds = 987_654_321

    /// The uncompressed layer.
    static func tar() -> [UInt8] {
        let t1 = Self.t1
        return TarBuilder.tar { b in
            // Whiteouts: a file, and a directory with its subtree (U31, U32).
            b.whiteout("etc/.wh.motd")
            b.whiteout("usr/share/doc/.wh.bash")
            // One name of a lower hardlink pair (U45): gunzip stays, alone.
            b.whiteout("usr/bin/.wh.uncompress")

            // Opaque dir with new attributes, marker first, then re-populated (U54, U58).
            b.dir("etc/skel/", mode: 0o750, mtime: t1)
            b.opaque("etc/skel/")
            b.file("etc/skel/.profile", profileBody, mtime: t1)
            // Marker after the re-added child (U53): the child stays.
            b.dir("etc/apt/apt.conf.d/", mtime: t1)
            b.file("etc/apt/apt.conf.d/99imgsync", aptConfBody, mtime: t1)
            b.opaque("etc/apt/apt.conf.d/")
            // A same-layer whiteout after the entry keeps the entry (U37).
            b.file("etc/issue", issueBody, mtime: t1)
            b.whiteout("etc/.wh.issue")

            // Type changes: file → dir (U64), dir → symlink (U69), dir → file (U65), file → symlink (U66).
            b.dir("etc/issue.net/", mtime: t1)
            b.file("etc/issue.net/banner", "banner\n", mtime: t1)
            b.symlink("usr/share/doc/apt", target: "../../../opt/app", mtime: t1)
            b.file("usr/share/doc/sed", "was a directory\n", mtime: t1)
            b.symlink("etc/hostname", target: "/proc/sys/kernel/hostname", mtime: t1)

            // Hard links: same layer (U80), to a lower file (U84), absolute and into an existing
            // group (U85), through the lower /bin -> usr/bin symlink (U87), with PAX path + linkpath.
            b.dir("opt/", mtime: t1)
            b.dir("opt/app/", mtime: t1)
            b.file("opt/app/data.bin", dataBody, mtime: t1)
            b.hardlink("opt/app/data-link", target: "opt/app/data.bin")
            b.hardlink("opt/app/debian_version", target: "etc/debian_version")
            b.hardlink("opt/app/perl-hardlink", target: "/usr/bin/perl")
            b.hardlink("opt/app/dash-via-symlink", target: "/bin/dash")

            // Long names: PAX path under an implied 128-byte dir (U22), a GNU long name (U21), a
            // symlink with a PAX linkpath, a hardlink whose name and target are both long.
            b.file(longFile, "long\n", mtime: t1)
            b.file(gnuName, "gnu\n", mtime: t1, longName: .gnu)
            b.symlink("opt/app/long-target", target: longTarget, mtime: t1)
            b.hardlink(longHardlink, target: longFile)

            // Special bits (recorded exactly; on disk without setuid/setgid in hardlink mode).
            b.file("opt/app/suid-tool", "#!/bin/sh\necho suid\n", mode: 0o4755, mtime: t1)
            b.file("opt/app/sgid-tool", "#!/bin/sh\necho sgid\n", mode: 0o2755, mtime: t1)
            b.dir("opt/app/shared/", mode: 0o2775, mtime: t1)
            b.file("opt/app/shared/note", "shared\n", mode: 0o664, mtime: t1)
            b.dir("opt/app/sticky/", mode: 0o1777, mtime: t1)

            // Odd modes: an unreadable file, a 0700 dir, a 0000 dir with a file inside.
            b.file("opt/app/no-access", "secret\n", mode: 0o000, mtime: t1)
            b.dir("opt/app/private/", mode: 0o700, mtime: t1)
            b.file("opt/app/private/key", "key\n", mode: 0o600, mtime: t1)
            b.dir("opt/app/locked/", mode: 0o000, mtime: t1)
            b.file("opt/app/locked/inside", "inside\n", mode: 0o640, mtime: t1)

            // Nanosecond mtimes on a file, a dir and a symlink (PAX mtime).
            b.file("opt/app/nanotime", "ns\n", mtime: t1, mtimeNanoseconds: nanoseconds)
            var dir = TarEntry("opt/app/nsdir/", typeflag: TarTypeflag.directory)
            dir.mode = 0o755
            dir.mtime = t1
            dir.mtimeNanoseconds = dirNanoseconds
            b.entry(dir)
            var link = TarEntry("opt/app/nslink", typeflag: TarTypeflag.symlink)
            link.linkName = Array("nanotime".utf8)
            link.mode = 0o777
            link.mtime = t1
            link.mtimeNanoseconds = nanoseconds
            b.entry(link)

            // Empty file; names that differ only in Unicode normalisation, and a non-UTF-8 name (U17, U18).
            b.file("opt/app/empty", "", mtime: t1)
            b.file(nfcName, "nfc\n", mtime: t1)
            b.file(nfdName, "nfd\n", mtime: t1)
            b.file(latin1Name, "latin1\n", mtime: t1)

            // Through the merged-/usr symlink of the lower layer (U109); a dir entry over a lower dir
            // replaces its attributes and keeps its children (U72); implied parents (U3).
            b.file("bin/imgsync-probe", "#!/bin/sh\necho probe\n", mode: 0o755, mtime: t1)
            b.dir("var/log/", mode: 0o750, mtime: t1)
            b.file("srv/data/deep/file", "deep\n", mtime: t1)

            // umoci 0.4.7 restores the mtime of an entry's direct parent only, so an explicit dir that
            // gains implied subdirs (opt/app above, via the long name; srv) keeps the unpack time
            // there, while imgsync applies the header's mtime at the end of the layer (D9). Restating
            // those dirs after their children (U4, D7) makes the rule the same on both sides.
            b.dir("opt/app/", mtime: t1)
            b.dir("srv/", mtime: t1)
        }
    }
}
