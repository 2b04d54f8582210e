import ArgumentParser
import Foundation
import ImgsyncCore
import ImgsyncRepository
import ImgsyncRegistry
import ImgsyncSync

/// `imgsync add <ref>`: checks that an image (or a tag pattern's match) exists in its registry and
/// inserts it into the list, keeping the list's comments and layout.
public struct AddCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add an image reference (or tag pattern) to the image list after checking it exists.",
        discussion: """
            The line goes after the last line of the same repository, else after the last line of the \
            same organisation on the same registry, else at the end. A reference already listed (after \
            normalisation: debian = docker.io/library/debian:latest) or one that would publish under a \
            name already taken is refused. The registry is asked with HEAD (with --platform, the image \
            is resolved to check the platform exists); a tag pattern must match at least one tag. \
            Exit status: 0 added, 1 refused, 2 unusable list or invocation; with --sync, the entry \
            was added but could not be published: 3 (the statuses of `imgsync sync`).
            """
    )

    @Argument(help: "Image reference or tag pattern, e.g. ubuntu:24.04, ghcr.io/org/image:v1.*, alpine@sha256:…")
    var reference: String

    @Option(help: "The image list file to edit.")
    var images: String = "images.txt"

    @Option(help: "Platform(s) for this image (os/arch[/variant][,…], any or all), written on its line as --platform.")
    var platform: String?

    @Flag(help: "Published names keep the registry (as the sync is configured); used to detect name collisions.")
    var keepRegistry = false

    @Flag(help: "Publish the new entry now: sync just this entry into --root (nothing is unpublished).")
    var sync = false

    @Option(help: "Repository root for --sync (default: $IMGSYNC_ROOT).")
    var root: String?

    @OptionGroup var change: ChangeOptions

    @OptionGroup var registryOptions: RegistryOptions

    public init() {}

    public func validate() throws {
        if sync && (root ?? ProcessInfo.processInfo.environment["IMGSYNC_ROOT"]) == nil {
            throw ValidationError("--sync needs --root or IMGSYNC_ROOT")
        }
        do {
            _ = try ImageList.parseReference(reference)
            _ = try PlatformRequest(platform, default: .linuxAMD64)
        } catch let error as ImgsyncError {
            throw ValidationError(error.message)
        }
    }

    public func run() async throws {
        let status = try await execute(environment: ProcessInfo.processInfo.environment, console: .standard)
        if status != 0 { throw ExitCode(status) }
    }

    /// Does the work and returns the exit status; separate from `run` so tests can call it.
    func execute(environment: [String: String], console: CommandConsole) async throws -> Int32 {
        let (ref, pattern) = try ImageList.parseReference(reference)
        do {
            // Refuse duplicates and collisions before asking the registry.
            var draft = try ImageListDocument.read(images, createIfMissing: true)
            try draft.insert(reference, platform: platform, keepRegistry: keepRegistry)
        } catch {
            return try listFailure(error, console)
        }
        // With --sync a build follows: its worker starts now, while the registry answers.
        if sync, let executable = BuildWorkerCommand.executable { BuildWorkers.prestart(executable: executable) }
        defer { BuildWorkers.discardSpare() }

        // One client for the check and, with --sync, the sync: one TLS context, one connection,
        // one token (a second client cost a new tag about a tenth of its time).
        do {
            return try await registryOptions.withClient(environment: environment, label: "imgsync.add") { client in
                try await checkAndInsert(ref: ref, pattern: pattern, client: client, environment: environment, console: console)
            }
        } catch {
            // A client that cannot be made (a CA file that cannot be used, …), or a registry that
            // says the reference could never sync.
            console.err("error: \(reference) cannot be added: \((error as? ImgsyncError)?.message ?? "\(error)")")
            return 1
        }
    }

    /// Asks the registry about the reference, then inserts it into the list (and syncs it).
    private func checkAndInsert(ref: ImageReference, pattern: TagPattern?, client: RegistryClient, environment: [String: String],
                                console: CommandConsole) async throws -> Int32 {
        // What the registry refuses fails the command in `execute` ("cannot be added", status 1).
        let found = try await check(ref: ref, pattern: pattern, client: client)

        // Re-read: the file may have changed while the registry answered.
        do {
            let isNew = !FileManager.default.fileExists(atPath: images)
            var document = try ImageListDocument.read(images, createIfMissing: true)
            let entry = try document.insert(reference, platform: platform, keepRegistry: keepRegistry)
            try document.write(to: images)
            let name = try entry.isPattern ? "one name per matching tag" : entry.reference.publishedName(keepRegistry: keepRegistry).description
            console.out("added \(entry.normalized) at \(images):\(entry.line)\(isNew ? " (a new list)" : "") (publishes as \(name)); \(found)")
            return sync ? try await syncEntry(line: entry.line, client: client, environment: environment, console: console) : 0
        } catch {
            return try listFailure(error, console)
        }
    }

    /// What the registry says of the reference: the tags a pattern matches, or the resolved image
    /// per platform. Throws when the line could never sync.
    private func check(ref: ImageReference, pattern: TagPattern?, client: RegistryClient) async throws -> String {
        if let pattern {
            let tags = try await client.listTags(registry: ref.registry, repository: ref.repository)
            let matched = pattern.filter(tags)
            guard !matched.isEmpty else {
                throw ImgsyncError(.notFound, "tag pattern \"\(pattern)\" matches none of the \(tags.count) tags of \(ref.name)")
            }
            let shown = matched.prefix(10).joined(separator: ", ") + (matched.count > 10 ? ", …" : "")
            return "matches \(matched.count) tag\(matched.count == 1 ? "" : "s"): \(shown)"
        }
        // Resolved, not just HEADed: a single-platform image for another platform than the
        // line asks for (or the default) would fail every sync.
        let fallback = try Platform(parsing: ImgsyncSync.defaultPlatform)
        let images = try await client.resolve(ref, for: try PlatformRequest(platform, default: fallback))
        let each = images.map { "\($0.platform?.description ?? fallback.description): \($0.manifestDigest)" }
        return "\(images[0].digest) (\(each.joined(separator: ", ")))"
    }

    /// Reports an error reading or editing the list: 2 when the list cannot be read, 1 when the edit
    /// is refused; other errors are rethrown.
    private func listFailure(_ error: any Error, _ console: CommandConsole) throws -> Int32 {
        switch error {
        case let error as ImageListUnreadable:
            console.err("error: \(error)")
            return 2
        case let error as ImageListEditError:
            console.err("error: \(error.message)")
            return 1
        default:
            throw error
        }
    }

    /// `--sync`: publishes the entry on `line` of the list (and nothing else) into the root.
    func syncEntry(line: Int, client: RegistryClient, environment: [String: String], console: CommandConsole) async throws -> Int32 {
        let logger = makeLogger(label: "imgsync.add", level: "warning")
        var options = SyncOptions(root: root ?? environment["IMGSYNC_ROOT"]!)
        options.removeUnlisted = false
        options.wait = change.wait
        options.lockFile = change.lockFile
        options.beforeChange = change.beforeChange
        options.afterChange = change.afterChange
        options.addSandboxMetadata()
        options.workerExecutable = BuildWorkerCommand.executable
        do {
            // The repository's --keep-registry setting decides the name (the flag only when it agrees).
            let keepRegistry = try PathSettings.keepRegistry(requested: keepRegistry ? true : nil, migrate: false, root: options.root,
                                                             syncOptions: false)
            options.keepRegistry = keepRegistry
            let list = try await ImageList.load(images, client: client).only(line: line)
            let known = (try? Repository.readState(root: options.root))??.platformLists ?? [:]
            let (targets, issues, failedLines, platformLists) = await SyncTarget.targets(
                of: list, keepRegistry: keepRegistry, defaultPlatform: try Platform(parsing: ImgsyncSync.defaultPlatform), client: client,
                knownPlatforms: known)
            options.platformLists = platformLists
            let engine = try SyncEngine(options: options, client: client, logger: logger)
            let report = try await engine.run(targets: targets, listIssues: issues, failedLines: failedLines, listEntries: list.entries.count,
                                              listName: list.source)
            console.out(report.text().trimmingCharacters(in: .newlines))
            return report.exitCode
        } catch {
            console.err("error: sync of \(reference) failed: \(error)")
            return 2
        }
    }
}
