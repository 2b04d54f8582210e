import ImgsyncCore
import ImgsyncRepository
import ImgsyncRegistry

/// The Apptainer/Singularity metadata every published tree gets (docs/design.md §2, checklist in
/// docs/apptainer-sandbox.md §5): `.singularity.d/` made from the image config, the root
/// compatibility symlinks, the mount points and `etc/hosts`/`etc/resolv.conf`.
/// See docs/apptainer-sandbox.md for what is written and why.
///
/// Outside `.singularity.d/`, mount points and root symlinks are added only where the image has
/// nothing; `etc/hosts` and `etc/resolv.conf` always become empty 0644 files, as `apptainer
/// build` leaves them. Inside `.singularity.d/`, every file imgsync writes replaces the image's
/// copy, as `apptainer build docker://…` does, since for a registry image these files are
/// generated: a stale `env/99-base.sh` without the `/.singularity.d/libs` entry breaks `--nv`.
/// The one exception is a config that says nothing (no `Env`, or neither `Entrypoint` nor
/// `Cmd`): the image's `env/10-docker2singularity.sh` or `runscript` then stays. The returned
/// warnings name what was replaced and what was kept.
public enum SandboxMetadata {
    public struct Options: Sendable {
        /// The manifest digest the image was pulled by: recorded as
        /// `org.opencontainers.image.base.digest` (with `base.name`) when given.
        public var manifestDigest: String?
        /// Adds an empty `.cvmfscatalog` at the image root, so a CVMFS server gives each image
        /// its own nested catalog.
        public var cvmfsCatalog: Bool

        public init(manifestDigest: String? = nil, cvmfsCatalog: Bool = false) {
            self.manifestDigest = manifestDigest
            self.cvmfsCatalog = cvmfsCatalog
        }
    }

    /// The generated layer and what it did.
    public struct Generated: Sendable {
        /// An uncompressed tar to apply on top of the image's layers.
        public var tar: [UInt8]
        /// ENV entries left out, image entries left in place of a mount point, …
        public var warnings: [String]
        /// Paths the tar adds (directories end in `/`).
        public var written: [String]
        /// The mtime of every generated entry and the build date in `labels.json`: the config's
        /// `created` time, or the epoch when it is absent, malformed or before 1970.
        public var mtime: Int64
    }

    /// Paths that must exist once the metadata is in (a tree without them silently loses its
    /// environment, `--env` and `run`).
    public static let requiredPaths = [
        ".singularity.d/env/99-base.sh", ".singularity.d/env/10-docker2singularity.sh", ".singularity.d/runscript",
    ]

    /// Mount points Apptainer binds over or OSG jobs need (`/cvmfs`, and `/srv` for
    /// `--home $PWD:/srv`); they must exist when the runtime has neither overlay nor underlay.
    static let mountPoints = ["proc", "sys", "dev", "tmp", "var/tmp", "home", "root", "etc", "cvmfs", "srv"]

    /// Adds the metadata to the tree `builder` is building, right before `publish`. Returns the
    /// warnings for the operator. `reference` is the image as the list names it (recorded in the
    /// definition and the labels); `architecture` is the platform's, e.g. `amd64`.
    @discardableResult
    public static func add(to builder: ImageBuilder, config: ImageConfig, reference: String, architecture: String,
                           options: Options = Options()) throws -> [String] {
        let generated = generate(config: config, reference: reference, architecture: architecture, options: options,
                                 existing: builder.existingType, linkTarget: builder.existingLinkTarget)
        try builder.applyGenerated(generated.tar, name: "apptainer metadata for \(reference)")
        let missing = requiredPaths.filter { builder.existingType($0) == nil }
        if !missing.isEmpty {
            throw ImgsyncError(.invalidArgument, "\(reference): the Apptainer metadata could not be added; "
                + "missing after writing it: \(missing.joined(separator: ", ")). Check what the image has at /.singularity.d")
        }
        return generated.warnings
    }

    /// The tar to apply over the image's layers. `existing(path)` tells what the image has at a
    /// relative path (nil when absent; a final symlink not followed) and `existing(path + "/.")`
    /// whether the path leads to a directory: `ImageBuilder.existingType` answers both.
    /// `linkTarget(path)` is the target of the image's symlink at `path`
    /// (`ImageBuilder.existingLinkTarget`), so that a symlink can be followed into what the tar adds.
    public static func generate(config: ImageConfig, reference: String, architecture: String, options: Options = Options(),
                                existing: @escaping (String) -> CatalogEntryType?,
                                linkTarget: @escaping (String) -> [UInt8]? = { _ in nil }) -> Generated {
        var warnings: [String] = []
        var mtime: Int64 = 0
        if let created = config.created {
            if let t = SandboxTime.parseRFC3339(created) {
                mtime = max(t, 0)
            } else {
                warnings.append("\(reference): config 'created' \(created.debugDescription) is not an RFC 3339 time; the Apptainer metadata is dated 1970-01-01")
            }
        }
        let from = reference.hasPrefix("docker://") ? String(reference.dropFirst(9)) : reference
        var plan = SandboxPlanner(existing: existing, linkTarget: linkTarget, mtime: mtime)

        // §5.2 and §5.3: mount points, then the two files the runtime binds over. A mount point
        // that is a symlink may lead to another one created later in this loop (`tmp -> var/tmp`
        // in an image without `var`), so the ones left out are tried once more before a warning.
        let leftOut = mountPoints.filter { !plan.ensureDirectory($0, replaceOther: false, purpose: "a mount point", report: false) }
        for path in leftOut {
            plan.ensureDirectory(path, replaceOther: false, purpose: "a mount point")
        }
        // Empty and 0644 whatever the image has, as Apptainer leaves them: an image's 0600 copy
        // is unreadable for users on CVMFS, and a symlink may dangle. The applier unlinks what is
        // there before writing, so a symlink is replaced, never written through.
        if plan.isDirectory("etc") {
            plan.file("etc/hosts", "", mode: 0o644, policy: .replace)
            plan.file("etc/resolv.conf", "", mode: 0o644, policy: .replace)
        }
        // Left as the image has them: Apptainer adds the calling user to session copies of these
        // and only warns at run time when they are missing.
        for name in ["etc/passwd", "etc/group"] where plan.type(name) == nil {
            warnings.append("\(reference): the image has no /\(name); Apptainer cannot add the calling user to it")
        }

        // §5.4 to §5.9: .singularity.d itself. A non-directory in the way is replaced: the tree
        // is unusable by Apptainer without this directory.
        for dir in ["libs", "actions", "env"] {
            plan.ensureDirectory(".singularity.d/" + dir, replaceOther: true, purpose: "the Apptainer metadata")
        }
        let env = DockerEnvScript.render(config.env)
        warnings += env.warnings.map { "\(reference): \($0)" }
        let entrypoint = config.entrypoint ?? []
        let cmd = config.cmd ?? []
        // A config that says nothing leaves an image-provided file in place (e.g. a tree imported
        // from an Apptainer sandbox with `docker import`, whose config is empty).
        plan.file(".singularity.d/env/10-docker2singularity.sh", env.script, mode: 0o755,
                  policy: config.env.isEmpty ? .ifAbsent : .replace)
        plan.file(".singularity.d/runscript", OCIRunscript.render(entrypoint: entrypoint, cmd: cmd), mode: 0o755,
                  policy: entrypoint.isEmpty && cmd.isEmpty ? .ifAbsent : .replace)
        // The fixed files replace the image's copies: a Docker/OCI image's are left over from
        // some other build (an `env/99-base.sh` without `/.singularity.d/libs` breaks `--nv`).
        plan.file(".singularity.d/env/01-base.sh", SandboxScripts.base01, mode: 0o755, policy: .replace)
        plan.file(".singularity.d/env/90-environment.sh", SandboxScripts.environment90, mode: 0o755, policy: .replace)
        plan.file(".singularity.d/env/94-appsbase.sh", SandboxScripts.appsBase94, mode: 0o755, policy: .replace)
        plan.file(".singularity.d/env/95-apps.sh", SandboxScripts.apps95, mode: 0o755, policy: .replace)
        plan.file(".singularity.d/env/99-base.sh", SandboxScripts.base99, mode: 0o755, policy: .replace)
        plan.file(".singularity.d/env/99-runtimevars.sh", SandboxScripts.runtimeVars99, mode: 0o755, policy: .replace)
        for action in SandboxScripts.actions {
            plan.file(".singularity.d/actions/" + action.name, action.body, mode: 0o755, policy: .replace)
        }
        plan.file(".singularity.d/startscript", SandboxScripts.startscript, mode: 0o755, policy: .replace)
        let labels = SandboxLabels.merged(imageLabels: config.labels, reference: from, architecture: architecture,
                                          manifestDigest: options.manifestDigest, buildTime: mtime)
        plan.file(".singularity.d/labels.json", SandboxLabels.json(labels), mode: 0o644, policy: .replace)
        plan.file(".singularity.d/Singularity", SandboxScripts.definition(reference: from), mode: 0o644, policy: .replace)

        // §5.10: root symlinks, relative, only where the image has nothing of that name.
        plan.symlinkIfAbsent("singularity", target: ".singularity.d/runscript")
        for action in ["run", "exec", "shell", "test"] {
            plan.symlinkIfAbsent("." + action, target: ".singularity.d/actions/" + action)
        }
        plan.symlinkIfAbsent("environment", target: ".singularity.d/env/90-environment.sh")

        // §5.11
        if options.cvmfsCatalog {
            plan.file(".cvmfscatalog", "", mode: 0o644, policy: .ifAbsent)
        }

        warnings += plan.warnings.map { "\(reference): \($0)" }
        func metadataNames(_ paths: [String]) -> [Substring] {
            paths.filter { $0.hasPrefix(".singularity.d/") }.map { $0.dropFirst(".singularity.d/".count) }
        }
        let replaced = metadataNames(plan.replaced)
        if !replaced.isEmpty {
            warnings.append("\(reference): the image has its own /.singularity.d; replaced its \(replaced.joined(separator: ", ")) with imgsync's")
        }
        let kept = metadataNames(plan.kept)
        if !kept.isEmpty {
            warnings.append("\(reference): the image has its own /.singularity.d; kept its \(kept.joined(separator: ", ")): "
                + "the image config has nothing to generate \(kept.count == 1 ? "it" : "them") from")
        }
        let written = plan.written
        return Generated(tar: plan.finish(), warnings: warnings, written: written, mtime: mtime)
    }
}
