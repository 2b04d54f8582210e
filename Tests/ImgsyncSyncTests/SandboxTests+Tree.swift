import Foundation
import Testing
@testable import ImgsyncSync
@testable import ImgsyncCore
@testable import ImgsyncRepository
import ImgsyncRegistry
import ImgsyncTestSupport

/// End to end: an image built from in-memory layers with `ImageBuilder`, the metadata added with
/// `SandboxMetadata.add`, published, then the catalog and the tree on disk checked against the
/// §5 checklist and against the image's own entries.
@Suite struct SandboxTreeTests {
    // MARK: helpers

    /// Regular files of a generated tar (path → body as text), read with imgsync's TarReader.
    static func filesIn(_ tar: [UInt8]) throws -> [String: String] {
        var out: [String: String] = [:]
        let reader = TarReader(source: MemoryChunkSource(tar))
        while let e = try reader.next() {
            guard e.kind == .regular else { continue }
            var body: [UInt8] = []
            try reader.readBody { body += $0 }
            out[String(decoding: e.name, as: UTF8.self)] = String(decoding: body, as: UTF8.self)
        }
        return out
    }

    static func entriesIn(_ tar: [UInt8]) throws -> [ImgsyncCore.TarEntry] {
        var out: [ImgsyncCore.TarEntry] = []
        let reader = TarReader(source: MemoryChunkSource(tar))
        while let e = try reader.next() { out.append(e) }
        return out
    }

    final class Workspace {
        let base: String
        let repository: Repository
        init() throws {
            base = NSTemporaryDirectory() + "imgsync-sandbox-tree-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
            repository = try Repository(root: base + "/root")
        }
        deinit { try? FileManager.default.removeItem(atPath: base) }
    }

    struct Built {
        var catalog: [String: CatalogEntry]
        var tree: String
        var warnings: [String]
        func content(_ path: String) -> String? {
            FileManager.default.contents(atPath: tree + "/" + path).map { String(decoding: $0, as: UTF8.self) }
        }
    }

    /// Applies `layer`, adds the metadata, publishes, and returns the image catalog and tree.
    static func build(_ layer: [UInt8], config: ImageConfig, in ws: Workspace, reference: String = "docker.io/library/test:1",
                      checkBeforeAdd: (ImageBuilder) -> Void = { _ in }) throws -> Built {
        let builder = try ImageBuilder(repository: ws.repository, linkMode: .hardlink)
        try builder.apply(LayerInput(source: BytesSource(layer), name: "L1", expect: LayerExpectations(compression: .none)))
        checkBeforeAdd(builder)
        let warnings = try SandboxMetadata.add(to: builder, config: config, reference: reference, architecture: "amd64",
                                               options: .init(manifestDigest: "sha256:" + String(repeating: "0", count: 64)))
        let published = try builder.publish(as: try PublishedName("library/test:1"))
        var catalog: [String: CatalogEntry] = [:]
        for e in try ws.repository.readCatalog(image: published.imageID) {
            catalog[String(decoding: e.path, as: UTF8.self)] = e
        }
        return Built(catalog: catalog, tree: published.treePath, warnings: warnings)
    }

    static let created = "2022-03-04T05:06:07Z"
    static let createdSeconds: Int64 = 1_646_370_367

    // MARK: tests

    @Test("§5.2, §5.3, §5.4, §5.6–§5.10: every checklist item is in the catalog and the tree; the image's own entries are untouched outside etc/hosts")
    func imageEntriesAreKeptAndEverythingIsAdded() throws {
        let ws = try Workspace()
        var b = TarBuilder()
        b.dir("etc/", mode: 0o755)
        b.file("etc/hosts", "127.0.0.1 image-host\n", mode: 0o600, mtime: TarBuilder.t0 + 5)
        b.file("etc/passwd", "root:x:0:0::/root:/bin/sh\n")
        b.dir("var/", mode: 0o755)
        b.dir("var/tmp/", mode: 0o1777)
        b.symlink("tmp", target: "/var/tmp")              // a mount point that is a symlink to a directory
        b.file("home", "not a directory\n")               // a mount point taken by a file
        b.symlink("srv", target: "/nowhere")              // a dangling symlink at a mount point
        b.file("environment", "# the image's own\n")      // a root compatibility name already taken
        b.dir("proc/", mode: 0o555)                       // an existing mount point with its own mode
        let cfg = try SandboxTests.config(env: ["PATH=/usr/bin:/bin", "GREETING=hello \"world\""],
                                          entrypoint: ["/bin/echo"], cmd: ["hi"], labels: ["vendor": "test"],
                                          created: Self.created)
        let built = try Self.build(b.build(), config: cfg, in: ws) { builder in
            // The lookups the planner relies on (ImageBuilder.existingType, "/." resolves).
            #expect(builder.existingType("tmp") == .symlink)
            #expect(builder.existingType("tmp/.") == .directory)
            #expect(builder.existingType("srv") == .symlink)
            #expect(builder.existingType("srv/.") == nil)
            #expect(builder.existingType("home/.") == nil)
            #expect(builder.existingType("cvmfs") == nil)
        }
        let c = built.catalog

        // Nothing of the image was replaced.
        #expect(c["tmp"]?.type == .symlink && c["tmp"]?.linkTarget == Array("/var/tmp".utf8))
        #expect(c["var/tmp"]?.type == .directory && c["var/tmp"]?.mode == 0o1777)
        #expect(c["home"]?.type == .regular)
        #expect(c["srv"]?.type == .symlink && c["srv"]?.linkTarget == Array("/nowhere".utf8))
        #expect(c["environment"]?.type == .regular && built.content("environment") == "# the image's own\n")
        #expect(c["proc"]?.mode == 0o555)
        #expect(c["etc/passwd"]?.type == .regular)
        // …and the operator is told about the mount points left as they are.
        #expect(built.warnings.contains { $0.contains("/home") && $0.contains("a file") })
        #expect(built.warnings.contains { $0.contains("/srv") && $0.contains("symlink") })
        #expect(built.warnings.contains { $0.contains("/etc/group") })  // §5.3: etc/passwd exists, etc/group does not
        #expect(built.warnings.count == 3, "\(built.warnings)")

        // §5.2 mount points created where absent, 0755.
        for dir in ["sys", "dev", "root", "cvmfs", ".singularity.d/libs"] {
            #expect(c[dir]?.type == .directory && c[dir]?.mode == 0o755, "\(dir)")
        }
        // §5.3 resolv.conf created empty, 0644; the image's hosts emptied and made 0644.
        for name in ["etc/resolv.conf", "etc/hosts"] {
            #expect(c[name]?.type == .regular && c[name]?.mode == 0o644 && c[name]?.size == 0, "\(name)")
        }
        #expect(built.content("etc/hosts") == "")

        // §5.4 .singularity.d and env/, 0755, with the env files.
        for dir in [".singularity.d", ".singularity.d/env", ".singularity.d/actions"] {
            #expect(c[dir]?.type == .directory && c[dir]?.mode == 0o755, "\(dir)")
        }
        for name in ["01-base.sh", "10-docker2singularity.sh", "90-environment.sh", "94-appsbase.sh", "95-apps.sh",
                     "99-base.sh", "99-runtimevars.sh"] {
            let e = c[".singularity.d/env/" + name]
            #expect(e?.type == .regular && e?.mode == 0o755, "\(name)")
        }
        #expect(c[".singularity.d/env/94-appsbase.sh"]?.size == 0)
        #expect(built.content(".singularity.d/env/99-base.sh")?.contains("/.singularity.d/libs") == true)
        // §5.5
        #expect(built.content(".singularity.d/env/10-docker2singularity.sh")
            == "#!/bin/sh\nexport PATH=\"/usr/bin:/bin\"\nexport GREETING=\"${GREETING:-\"hello \\\"world\\\"\"}\"\n")
        // §5.6 and §5.7
        #expect(c[".singularity.d/runscript"]?.mode == 0o755)
        #expect(built.content(".singularity.d/runscript")?.contains("\neval \"set ${SINGULARITY_OCI_RUN}\"\nexec \"$@\"\n") == true)
        #expect(c[".singularity.d/startscript"]?.mode == 0o755 && built.content(".singularity.d/startscript") == "#!/bin/sh\n")
        for action in ["exec", "run", "shell", "start", "test"] {
            let e = c[".singularity.d/actions/" + action]
            #expect(e?.type == .regular && e?.mode == 0o755, "\(action)")
            #expect(built.content(".singularity.d/actions/" + action)?.hasPrefix("#!/bin/sh\n") == true, "\(action)")
        }
        // §5.8 and §5.9
        #expect(c[".singularity.d/labels.json"]?.mode == 0o644)
        let labels = try JSONSerialization.jsonObject(with: Data(built.content(".singularity.d/labels.json")!.utf8)) as? [String: String]
        #expect(labels?["vendor"] == "test" && labels?["org.label-schema.usage.singularity.deffile.from"] == "docker.io/library/test:1")
        #expect(c[".singularity.d/Singularity"]?.mode == 0o644)
        #expect(built.content(".singularity.d/Singularity") == "bootstrap: docker\nfrom: docker.io/library/test:1\n\n")
        // §5.10 root symlinks, relative, where the name was free.
        let links = ["singularity": ".singularity.d/runscript", ".run": ".singularity.d/actions/run",
                     ".exec": ".singularity.d/actions/exec", ".shell": ".singularity.d/actions/shell",
                     ".test": ".singularity.d/actions/test"]
        for (name, target) in links {
            #expect(c[name]?.type == .symlink && c[name]?.linkTarget == Array(target.utf8), "\(name)")
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: built.tree + "/" + name)) == target)
        }
        #expect(c[".start"] == nil && c["apptainer"] == nil && c[".cvmfscatalog"] == nil)

        // Generated entries: catalog metadata as written (uid 0, the config's created time), bodies
        // in the object store with the catalog's digest.
        for (path, e) in c where path.hasPrefix(".singularity.d") {
            #expect(e.uid == 0 && e.gid == 0 && e.mtime == Self.createdSeconds, "\(path)")
            if e.type == .regular && e.size > 0 {
                let body = try #require(FileManager.default.contents(atPath: built.tree + "/" + path))
                #expect(SHA256Hasher.hash(Array(body)) == e.sha256, "\(path)")
            }
        }
        // §5.11: the three files a tree must never lack.
        for path in SandboxMetadata.requiredPaths { #expect(c[path]?.type == .regular, "\(path)") }
    }

    @Test("§5.2: mount points and etc files are created under an image that lacks etc and var entirely")
    func bareImageGetsEveryMountPoint() throws {
        let ws = try Workspace()
        var b = TarBuilder()
        b.file("app", "#!/bin/sh\n", mode: 0o755)
        let built = try Self.build(b.build(), config: try SandboxTests.config(cmd: ["/app"]), in: ws)
        for dir in SandboxMetadata.mountPoints + ["var"] {
            #expect(built.catalog[dir]?.type == .directory && built.catalog[dir]?.mode == 0o755, "\(dir)")
        }
        #expect(built.catalog["etc/hosts"]?.size == 0 && built.catalog["etc/hosts"]?.mode == 0o644)
        #expect(built.catalog["environment"]?.type == .symlink)
        #expect(built.catalog["environment"]?.linkTarget == Array(".singularity.d/env/90-environment.sh".utf8))
        // §5.3: only the missing identity files are reported.
        #expect(built.warnings.count == 2, "\(built.warnings)")
        #expect(built.warnings.contains { $0.contains("no /etc/passwd") } && built.warnings.contains { $0.contains("no /etc/group") })
    }

    @Test("§5.4: an image's own .singularity.d files are replaced by generated ones and named in a warning; a silent config keeps the runscript")
    func imageShippedMetadataIsReplaced() throws {
        let ws = try Workspace()
        var b = TarBuilder()
        b.dir(".singularity.d/", mode: 0o755)
        b.dir(".singularity.d/env/", mode: 0o755)
        b.dir(".singularity.d/actions/", mode: 0o755)
        // A stale 99-base.sh without /.singularity.d/libs, which breaks --nv.
        b.file(".singularity.d/env/99-base.sh", "#!/bin/sh\nexport PS1=old\n", mode: 0o755)
        b.file(".singularity.d/env/90-environment.sh", "#!/bin/sh\nexport FROM_DEF=1\n", mode: 0o755)
        b.file(".singularity.d/env/10-docker2singularity.sh", "#!/bin/sh\nexport STALE=1\n", mode: 0o755)
        b.file(".singularity.d/env/91-extra.sh", "#!/bin/sh\nexport EXTRA=1\n", mode: 0o755)
        b.file(".singularity.d/actions/exec", "#!/bin/sh\nexec /old \"$@\"\n", mode: 0o700)
        b.symlink(".singularity.d/startscript", target: "/opt/start")
        b.file(".singularity.d/runscript", "#!/bin/sh\nexec /opt/tool \"$@\"\n", mode: 0o755)
        b.file(".singularity.d/labels.json", "{\"old\": \"x\"}", mode: 0o644)
        b.symlink("singularity", target: ".singularity.d/runscript")
        // No ENTRYPOINT or CMD in the config (as after `docker import`), but an ENV.
        let cfg = try SandboxTests.config(env: ["NEW=2"])
        let built = try Self.build(b.build(), config: cfg, in: ws)
        let c = built.catalog

        #expect(built.content(".singularity.d/env/99-base.sh") == SandboxScripts.base99)
        #expect(built.content(".singularity.d/env/90-environment.sh") == SandboxScripts.environment90)
        #expect(built.content(".singularity.d/env/10-docker2singularity.sh") == "#!/bin/sh\nexport NEW=\"${NEW:-\"2\"}\"\n")
        #expect(built.content(".singularity.d/actions/exec") == SandboxScripts.actions.first { $0.name == "exec" }?.body)
        #expect(c[".singularity.d/actions/exec"]?.mode == 0o755)
        #expect(c[".singularity.d/startscript"]?.type == .regular && built.content(".singularity.d/startscript") == "#!/bin/sh\n")
        #expect(built.content(".singularity.d/labels.json")?.contains("\"old\"") == false)
        // Only the runscript, which the config cannot replace, and files imgsync does not write stay.
        #expect(built.content(".singularity.d/runscript") == "#!/bin/sh\nexec /opt/tool \"$@\"\n")
        #expect(built.content(".singularity.d/env/91-extra.sh") == "#!/bin/sh\nexport EXTRA=1\n")
        #expect(c["singularity"]?.type == .symlink)

        let replaced = built.warnings.filter { $0.contains("its own /.singularity.d; replaced") }
        #expect(replaced.count == 1, "\(built.warnings)")
        for name in ["env/99-base.sh", "env/90-environment.sh", "env/10-docker2singularity.sh", "actions/exec", "startscript", "labels.json"] {
            #expect(replaced.first?.contains(name) == true, "\(name): \(replaced)")
        }
        #expect(replaced.first?.contains("runscript") == false && replaced.first?.contains("91-extra.sh") == false)
        let kept = built.warnings.filter { $0.contains("its own /.singularity.d; kept") }
        #expect(kept.count == 1 && kept.first?.contains("kept its runscript:") == true, "\(built.warnings)")
        #expect(built.warnings.count == 4, "\(built.warnings)")  // plus no /etc/passwd, no /etc/group
    }

    @Test("§5.4: a non-directory named .singularity.d is replaced by the metadata directory")
    func nonDirectoryMetadataIsReplaced() throws {
        let ws = try Workspace()
        var b = TarBuilder()
        b.file(".singularity.d", "junk")
        let built = try Self.build(b.build(), config: try SandboxTests.config(entrypoint: ["/x"]), in: ws)
        #expect(built.catalog[".singularity.d"]?.type == .directory)
        for path in SandboxMetadata.requiredPaths { #expect(built.catalog[path]?.type == .regular, "\(path)") }
        #expect(built.warnings.contains { $0.contains("/.singularity.d is a file") })
    }

    @Test("§5.3: etc/hosts and etc/resolv.conf become empty 0644 files; a symlink there is replaced, never written through",
          arguments: [true, false])
    func etcFilesAreAlwaysEmpty(symlinkTargetExists: Bool) throws {
        let ws = try Workspace()
        var b = TarBuilder()
        b.dir("etc/", mode: 0o755)
        b.file("etc/hosts", "127.0.0.1 image-host\n", mode: 0o600)
        b.file("etc/passwd", "root:x:0:0::/root:/bin/sh\n")
        b.file("etc/group", "root:x:0:\n")
        b.dir("run/", mode: 0o755)
        if symlinkTargetExists {
            b.dir("run/resolvconf/", mode: 0o755)
            b.file("run/resolvconf/resolv.conf", "nameserver 192.0.2.1\n", mode: 0o644)
        }
        b.symlink("etc/resolv.conf", target: "../run/resolvconf/resolv.conf")
        let built = try Self.build(b.build(), config: try SandboxTests.config(cmd: ["/x"]), in: ws)

        for name in ["etc/hosts", "etc/resolv.conf"] {
            let e = try #require(built.catalog[name])
            #expect(e.type == .regular && e.mode == 0o644 && e.size == 0 && e.mtime == 1_709_210_096, "\(name)")
            let attributes = try FileManager.default.attributesOfItem(atPath: built.tree + "/" + name)  // not following a symlink
            #expect(attributes[.type] as? FileAttributeType == .typeRegular, "\(name)")
            #expect((attributes[.size] as? Int) == 0, "\(name)")
            #expect(((attributes[.posixPermissions] as? Int) ?? 0) & 0o444 == 0o444, "\(name)")
        }
        // The symlink's target is the image's, as it was.
        if symlinkTargetExists {
            #expect(built.catalog["run/resolvconf/resolv.conf"]?.size == 21)
            #expect(built.content("run/resolvconf/resolv.conf") == "nameserver 192.0.2.1\n")
        } else {
            #expect(built.catalog["run/resolvconf"] == nil && built.catalog["run/resolvconf/resolv.conf"] == nil)
            #expect(!FileManager.default.fileExists(atPath: built.tree + "/run/resolvconf"))
        }
        #expect(built.warnings.isEmpty, "\(built.warnings)")
    }

    @Test("§5.2: a mount point that is a symlink into a mount point imgsync creates is left alone without a warning",
          arguments: [("var/tmp", "/tmp", "tmp"), ("var/tmp", "../../tmp", "tmp"), ("tmp", "var/tmp", "var/tmp")])
    func mountPointSymlinkIntoCreatedMountPoint(link: String, target: String, resolved: String) throws {
        let ws = try Workspace()
        var b = TarBuilder()
        if link.hasPrefix("var/") { b.dir("var/", mode: 0o755) }
        b.symlink(link, target: target)
        b.file("app", "#!/bin/sh\n", mode: 0o755)
        let built = try Self.build(b.build(), config: try SandboxTests.config(cmd: ["/app"]), in: ws)

        #expect(built.catalog[link]?.type == .symlink && built.catalog[link]?.linkTarget == Array(target.utf8))
        #expect(built.catalog[resolved]?.type == .directory && built.catalog[resolved]?.mode == 0o755)
        let attributes = try FileManager.default.attributesOfItem(atPath: built.tree + "/" + resolved)
        #expect(attributes[.type] as? FileAttributeType == .typeDirectory)
        #expect(!built.warnings.contains { $0.contains("does not lead to a directory") }, "\(built.warnings)")
        #expect(built.warnings.count == 2, "\(built.warnings)")  // no /etc/passwd, no /etc/group
    }

    @Test("§5.11: .cvmfscatalog only when asked for")
    func cvmfsCatalogOption() throws {
        let cfg = try SandboxTests.config(cmd: ["/x"])
        let with = SandboxMetadata.generate(config: cfg, reference: "r", architecture: "amd64",
                                            options: .init(cvmfsCatalog: true), existing: { _ in nil })
        let without = SandboxMetadata.generate(config: cfg, reference: "r", architecture: "amd64", existing: { _ in nil })
        #expect(try Self.filesIn(with.tar)[".cvmfscatalog"] == "")
        #expect(try Self.filesIn(without.tar)[".cvmfscatalog"] == nil)
    }
}
