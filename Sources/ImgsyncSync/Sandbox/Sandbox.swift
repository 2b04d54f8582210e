import ImgsyncCore
import ImgsyncRegistry

/// The Apptainer/Singularity metadata every published tree gets (docs/design.md §2, checklist in
/// docs/apptainer-sandbox.md §5): `.singularity.d/` made from the image config, the root
/// compatibility symlinks, the mount points and `etc/hosts`/`etc/resolv.conf`.
/// See docs/apptainer-sandbox.md for what is written and why.
///
/// Nothing of the image is replaced outside `.singularity.d/`: mount points, root symlinks and
/// `etc` files are added only where the image has nothing. Inside `.singularity.d/`, the files
/// made from the config (`runscript`, `env/10-docker2singularity.sh`, `labels.json`,
/// `Singularity`) replace the image's copies, as `apptainer build` does; the fixed files
/// (`env/99-base.sh`, the other env files, `actions/*`, `startscript`) are added only where
/// the image has none, so an image built with Apptainer tooling keeps its own.
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
                                 existing: builder.existingType)
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
    public static func generate(config: ImageConfig, reference: String, architecture: String, options: Options = Options(),
                                existing: @escaping (String) -> CatalogEntryType?) -> Generated {
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
        var plan = SandboxPlanner(existing: existing, mtime: mtime)
        let imageHadMetadata = plan.isDirectory(".singularity.d")

        // §5.2 and §5.3: mount points, then the two files the runtime binds over.
        for path in mountPoints {
            plan.ensureDirectory(path, replaceOther: false, purpose: "a mount point")
        }
        if plan.isDirectory("etc") {
            plan.file("etc/hosts", "", mode: 0o644, policy: .ifAbsent)
            plan.file("etc/resolv.conf", "", mode: 0o644, policy: .ifAbsent)
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
        plan.file(".singularity.d/env/01-base.sh", SandboxScripts.base01, mode: 0o755, policy: .ifAbsent)
        plan.file(".singularity.d/env/90-environment.sh", SandboxScripts.environment90, mode: 0o755, policy: .ifAbsent)
        plan.file(".singularity.d/env/94-appsbase.sh", SandboxScripts.appsBase94, mode: 0o755, policy: .ifAbsent)
        plan.file(".singularity.d/env/95-apps.sh", SandboxScripts.apps95, mode: 0o755, policy: .ifAbsent)
        plan.file(".singularity.d/env/99-base.sh", SandboxScripts.base99, mode: 0o755, policy: .ifAbsent)
        plan.file(".singularity.d/env/99-runtimevars.sh", SandboxScripts.runtimeVars99, mode: 0o755, policy: .ifAbsent)
        for action in SandboxScripts.actions {
            plan.file(".singularity.d/actions/" + action.name, action.body, mode: 0o755, policy: .ifAbsent)
        }
        plan.file(".singularity.d/startscript", SandboxScripts.startscript, mode: 0o755, policy: .ifAbsent)
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
        let keptMetadata = plan.kept.filter { $0.hasPrefix(".singularity.d/") }
        if imageHadMetadata && !keptMetadata.isEmpty {
            let names = keptMetadata.map { String($0.dropFirst(".singularity.d/".count)) }
            warnings.append("\(reference): the image has its own /.singularity.d; kept its \(names.joined(separator: ", "))")
        }
        let written = plan.written
        return Generated(tar: plan.finish(), warnings: warnings, written: written, mtime: mtime)
    }
}
