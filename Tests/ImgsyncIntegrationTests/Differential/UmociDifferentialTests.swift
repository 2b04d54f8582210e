import Foundation
import ImgsyncTestSupport
import Testing

/// Differential test (docs/conformance.md "diff"): a real Debian minbase rootfs plus a crafted upper
/// layer, unpacked by `imgsync apply` and by `umoci raw unpack --rootless`, compared file by file with
/// scripts/tree-compare (content, type, link target, mode & 07777, mtime, link groups; imgsync's disk
/// tree against its catalog with the documented normalisation), then specific expectations checked
/// directly on both trees. Needs umoci, debootstrap (for the first build of the cached rootfs,
/// scripts/make-rootfs) and python3: when one is missing the test fails, it never skips.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct UmociDifferentialTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    let scripts = UmociDifferentialTests.repositoryRoot + "/scripts"
    /// The `imgsync` executable built next to the test bundle.
    let imgsync = imgsyncExecutable
    let name = "test/debian:diff"
    typealias Upper = DebianUpperLayer

    @Test func debianMinbasePlusCraftedLayerMatchesUmoci() async throws {
        for (tool, package) in [("umoci", "umoci"), ("debootstrap", "debootstrap"), ("python3", "python3")] {
            try await requireTool(tool, package: package)
        }
        let clock = ContinuousClock()
        var started = clock.now
        func step(_ what: String) {
            print("differential: \(what): \(clock.now - started)")
            started = clock.now
        }

        // The cached rootfs layer (built on first use: minutes, network to the Debian archive).
        let rootfsOutput = try await ChildProcess.run([scripts + "/make-rootfs"], timeout: 900)
        let rootfs = try #require(rootfsOutput.split(separator: "\n").last.map(String.init), "make-rootfs printed no path")
        #expect(FileManager.default.fileExists(atPath: rootfs), "make-rootfs printed \(rootfs), which does not exist")
        step("rootfs")
        try await checkLowerPaths(rootfs)
        step("lower paths checked")

        try await withTestDirectory { dir in
            let upper = dir.file("upper.tar.gz")
            try Data(LayerCompressors.gzip(Upper.tar())).write(to: URL(fileURLWithPath: upper))

            // umoci, from an OCI layout holding the same two blobs.
            try await ChildProcess.run([scripts + "/make-oci-layout", dir.file("oci"), "--tag", "diff", rootfs, upper])
            try await ChildProcess.run(["umoci", "raw", "unpack", "--rootless", "--image", dir.file("oci") + ":diff",
                                        dir.file("umoci")], timeout: 300)
            step("umoci raw unpack --rootless")

            // imgsync, in hardlink mode (shared read-only inodes) and in copy mode (own inodes).
            for mode in ["hardlink", "copy"] {
                try await ChildProcess.run([imgsync, "apply", "--root", dir.file("r-" + mode), "--name", name,
                                            "--link", mode, rootfs, upper], timeout: 300)
                step("imgsync apply --link \(mode)")
                let (status, output) = try await treeCompare(root: dir.file("r-" + mode), umoci: dir.file("umoci"), link: mode)
                #expect(status == 0, "tree-compare found differences (--link \(mode)):\n\(output)")
                #expect(output.contains(" paths compared, 0 differences"), "unexpected tree-compare output:\n\(output)")
                step("tree-compare --link \(mode)")
            }

            let umoci = TreeProbe(root: dir.file("umoci"), label: "umoci")
            let published = try FileManager.default.destinationOfSymbolicLink(atPath: dir.file("r-hardlink/") + name)
            let mine = TreeProbe(root: dir.file("r-hardlink/test/") + published, label: "imgsync")
            for tree in [umoci, mine] { checkCommonExpectations(tree) }
            checkUmociSpecifics(umoci)
            let catalog = try CatalogRecord.parse(try await ChildProcess.run([imgsync, "catalog", "--root", dir.file("r-hardlink"), name]))
            checkImgsyncSpecifics(mine, catalog)

            // The comparison must be able to fail: break the umoci tree in two ways and expect both
            // differences to be named.
            #expect(chmod(dir.file("umoci/usr/bin/passwd"), 0o755) == 0)
            let profile = dir.file("umoci/etc/skel/.profile")
            try Data("tampered\n".utf8).write(to: URL(fileURLWithPath: profile))
            var times = [timespec(tv_sec: Int(Upper.t1), tv_nsec: 0), timespec(tv_sec: Int(Upper.t1), tv_nsec: 0)]
            #expect(utimensat(AT_FDCWD, profile, &times, 0) == 0, "cannot restore the mtime of \(profile)")
            let (status, output) = try await treeCompare(root: dir.file("r-hardlink"), umoci: dir.file("umoci"), link: "hardlink")
            #expect(status == 1, "tree-compare exited \(status) on a tampered tree:\n\(output)")
            #expect(output.contains("umoci \"/usr/bin/passwd\": mode: imgsync=4755 umoci=0755"), "\(output)")
            #expect(output.contains("umoci \"/etc/skel/.profile\": sha256: "), "\(output)")
            #expect(output.contains(" paths compared, 2 differences"), "\(output)")
            step("tampered comparison")
        }
    }

    // MARK: - Expectations checked directly

    /// What both unpackers must show (the layer's rules, whatever the on-disk normalisation).
    func checkCommonExpectations(_ t: TreeProbe) {
        let who = Comment(rawValue: t.label)
        // Whiteouts: a file, a directory with its subtree, one name of a hardlink pair.
        #expect(!t.exists("etc/motd"), who)
        #expect(!t.exists("usr/share/doc/bash"), who)
        #expect(t.type("usr/share/doc/dash") == "dir", who)
        #expect(!t.exists("usr/bin/uncompress"), who)
        #expect(t.type("usr/bin/gunzip") == "file", who)
        // Opaque dirs: only what this layer put there, whatever the marker's position.
        #expect(t.childNames("etc/skel") == [".profile"], who)
        #expect(t.contents("etc/skel/.profile") == Upper.profileBody, who)
        #expect(t.node("etc/skel")?.mode == 0o750, who)
        #expect(t.childNames("etc/apt/apt.conf.d") == ["99imgsync"], who)
        #expect(t.contents("etc/issue") == Upper.issueBody, who)
        // Type changes.
        #expect(t.type("etc/issue.net") == "dir", who)
        #expect(t.contents("etc/issue.net/banner") == "banner\n", who)
        #expect(t.linkTarget("usr/share/doc/apt") == Array("../../../opt/app".utf8), who)
        #expect(t.contents("usr/share/doc/sed") == "was a directory\n", who)
        #expect(t.linkTarget("etc/hostname") == Array("/proc/sys/kernel/hostname".utf8), who)
        // Long names and targets.
        #expect(t.contents(Upper.longFile) == "long\n", who)
        #expect(t.contents(Upper.gnuName) == "gnu\n", who)
        #expect(t.linkTarget("opt/app/long-target") == Array(Upper.longTarget.utf8), who)
        #expect(t.contents(Upper.longHardlink) == "long\n", who)
        // Dirs keep their exact modes on disk on both sides.
        #expect(t.node("opt/app/private")?.mode == 0o700, who)
        #expect(t.node("opt/app/locked")?.mode == 0o000, who)
        #expect(t.contents("opt/app/locked/inside") == "inside\n", who)
        #expect(t.node("opt/app/shared")?.mode == 0o2775, who)
        #expect(t.node("opt/app/sticky")?.mode == 0o1777, who)
        #expect(t.node("var/log")?.mode == 0o750, who)
        #expect(!t.childNames("var/log").isEmpty, "\(t.label): var/log lost its lower children")
        #expect(t.node("srv")?.mtimeNanoseconds == Upper.t1 * 1_000_000_000, who)
        // Nanosecond mtimes.
        let t1 = Upper.t1 * 1_000_000_000
        #expect(t.node("opt/app/nanotime")?.mtimeNanoseconds == t1 + Int64(Upper.nanoseconds), who)
        #expect(t.node("opt/app/nsdir")?.mtimeNanoseconds == t1 + Int64(Upper.dirNanoseconds), who)
        #expect(t.node("opt/app/nslink")?.mtimeNanoseconds == t1 + Int64(Upper.nanoseconds), who)
        // Names are bytes: NFC, NFD and Latin-1 spellings of "café" are three files.
        let app = Set(t.children("opt/app"))
        for n in [Array(Upper.nfcName.utf8), Array(Upper.nfdName.utf8), Upper.latin1Name] {
            #expect(app.contains(Array(n.dropFirst("opt/app/".utf8.count))), "\(t.label): \(n) missing")
        }
        // Through the merged-/usr symlink; implied parents.
        #expect(t.type("bin") == "symlink", who)
        #expect(t.contents("usr/bin/imgsync-probe") == "#!/bin/sh\necho probe\n", who)
        #expect(t.contents("srv/data/deep/file") == "deep\n", who)
        #expect(t.contents("opt/app/empty") == "", who)
    }

    /// umoci writes real hard links and modes as given (the test runs as root).
    func checkUmociSpecifics(_ t: TreeProbe) {
        func sameInode(_ a: String, _ b: String) {
            #expect(t.node(a) != nil && t.node(a)?.inode == t.node(b)?.inode, "umoci: \(a) and \(b) are not one inode")
        }
        sameInode("opt/app/data-link", "opt/app/data.bin")
        sameInode("opt/app/debian_version", "etc/debian_version")
        sameInode("opt/app/perl-hardlink", "usr/bin/perl")
        sameInode("usr/bin/perl5.36.0", "usr/bin/perl")
        sameInode("opt/app/dash-via-symlink", "usr/bin/dash")
        sameInode(Upper.longHardlink, Upper.longFile)
        #expect(t.node("usr/bin/perl")?.nlink == 3)
        #expect(t.node("usr/bin/gunzip")?.nlink == 1)
        #expect(t.node("opt/app/suid-tool")?.mode == 0o4755)
        #expect(t.node("opt/app/sgid-tool")?.mode == 0o2755)
        #expect(t.node("opt/app/no-access")?.mode == 0o000)
    }

    /// imgsync records exact modes and link groups in its catalog; on disk (hardlink mode) files are
    /// read-only without setuid/setgid (docs/on-disk-format.md).
    func checkImgsyncSpecifics(_ t: TreeProbe, _ catalog: [[UInt8]: CatalogRecord]) {
        func record(_ p: String) -> CatalogRecord? { catalog[Array(p.utf8)] }
        func sameGroup(_ a: String, _ b: String) {
            let ga = record(a)?.linkGroup ?? 0
            #expect(ga != 0 && ga == record(b)?.linkGroup, "imgsync catalog: \(a) and \(b) are not one link group")
        }
        sameGroup("opt/app/data-link", "opt/app/data.bin")
        sameGroup("opt/app/debian_version", "etc/debian_version")
        sameGroup("opt/app/perl-hardlink", "usr/bin/perl")
        sameGroup("usr/bin/perl5.36.0", "usr/bin/perl")
        sameGroup("opt/app/dash-via-symlink", "usr/bin/dash")
        sameGroup(Upper.longHardlink, Upper.longFile)
        let gunzip = record("usr/bin/gunzip")?.linkGroup ?? -1
        #expect(gunzip == 0 || catalog.values.filter { $0.linkGroup == gunzip }.count == 1, "gunzip still shares a link group")
        for (path, exact) in [("opt/app/suid-tool", 0o4755), ("opt/app/sgid-tool", 0o2755), ("opt/app/no-access", 0o000)] {
            #expect(record(path)?.mode == exact, "catalog mode of \(path)")
            #expect(t.node(path)?.mode == exact & 0o555, "on-disk mode of \(path)")
        }
        #expect(record("usr/bin/passwd")?.mode == 0o4755)
        #expect(t.node("usr/bin/passwd")?.mode == 0o555)
        #expect(record("opt/app/nanotime")?.mtimeNanoseconds == Upper.nanoseconds)
        #expect(record("dev/null")?.type == "char", "devices are recorded")
        #expect(!t.exists("dev/null"), "devices are not created")
    }

    // MARK: - Helpers

    func requireTool(_ tool: String, package: String) async throws {
        do {
            try await ChildProcess.run(["sh", "-c", "command -v \(tool) || test -x /usr/sbin/\(tool)"])
        } catch {
            throw CommandFailed(command: [tool], status: 127, output: """
                \(tool) is not installed. The umoci differential test needs umoci, debootstrap and python3 \
                (apt-get install \(package), or scripts/install-deps); it fails rather than skip.
                """)
        }
    }

    /// Every lower path the upper layer relies on exists in the rootfs with the expected type, so a
    /// change in Debian shows up here and not as a puzzling difference.
    func checkLowerPaths(_ rootfs: String) async throws {
        let script = """
            import sys, tarfile
            with tarfile.open(sys.argv[1]) as t:
                for m in t:
                    print(m.type.decode() + " " + m.name.removeprefix("./"))
            """
        let listing = try await ChildProcess.run(["python3", "-c", script, rootfs], timeout: 300)
        var types: [String: String] = [:]
        for line in listing.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { types[String(parts[1]).trimmingSuffix("/")] = String(parts[0]) }
        }
        for (path, flag) in Upper.lowerPaths {
            #expect(types[path] == String(UnicodeScalar(flag)), "rootfs \(rootfs): \(path) is \(types[path] ?? "absent"), the upper layer expects typeflag \(UnicodeScalar(flag))")
        }
    }

    /// Runs scripts/tree-compare; returns its exit status and output (status 2 is an operational error).
    func treeCompare(root: String, umoci: String, link: String) async throws -> (Int32, String) {
        let arguments = ["python3", scripts + "/tree-compare", "--imgsync-root", root, "--name", name,
                         "--umoci", umoci, "--link", link, "--imgsync", imgsync]
        do {
            return (0, try await ChildProcess.run(arguments, timeout: 300))
        } catch let failure as CommandFailed {
            return (failure.status, failure.output)
        }
    }
}

private extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
