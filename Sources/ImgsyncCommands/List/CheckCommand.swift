import ArgumentParser
import Foundation
import ImgsyncCore
import ImgsyncRegistry
import ImgsyncSync

/// `imgsync check`: the list's CI. Validates every line, expands tag patterns and resolves every
/// image with HEAD, without publishing anything.
public struct CheckCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the image list and resolve every entry in its registry, without publishing.",
        discussion: """
            Prints one line per problem (file:line: reason), then a summary. Exit status: 0 every entry \
            is valid and resolves, 1 some entries are bad, 2 the list cannot be read or the invocation \
            is unusable.
            """
    )

    @Option(help: "The image list: a file or an https:// URL.")
    var images: String = "images.txt"

    @Flag(help: "Print a JSON report instead of text.")
    var json = false

    @Flag(help: "Published names keep the registry (as the sync is configured); used to detect name collisions.")
    var keepRegistry = false

    @Option(help: "Registry requests in flight at once.")
    var jobs: Int = 8

    @OptionGroup var registryOptions: RegistryOptions

    public init() {}

    public func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
    }

    public func run() async throws {
        let status = try await execute(environment: ProcessInfo.processInfo.environment, console: .standard)
        if status != 0 { throw ExitCode(status) }
    }

    /// The report `--json` prints.
    struct Report: Encodable {
        struct Image: Encodable {
            var line: Int
            var name: String
            var reference: String
            var platform: String?
            var digest: String?
        }
        struct Problem: Encodable {
            var line: Int
            var message: String
        }
        var source: String
        var lines: Int
        var entries: Int
        var patterns: Int
        var images: [Image]
        var problems: [Problem]
        var ok: Bool
    }

    func execute(environment: [String: String], console: CommandConsole) async throws -> Int32 {
        let report: Report
        do {
            report = try await registryOptions.withClient(environment: environment, label: "imgsync.check") { client in
                try await check(client)
            }
        } catch let error as ImageListUnreadable {
            console.err("error: \(error)")
            return 2
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            console.out(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            for problem in report.problems { console.out("\(report.source):\(problem.line): \(problem.message)") }
            let resolved = report.images.count { $0.digest != nil }
            console.out("\(report.source): \(report.entries) entries on \(report.lines) lines (\(report.patterns) tag patterns), "
                + "\(report.images.count) images, \(resolved) resolved, \(report.problems.count) problem\(report.problems.count == 1 ? "" : "s")")
        }
        return report.ok ? 0 : 1
    }

    private func check(_ client: RegistryClient) async throws -> Report {
        let list = try await ImageList.load(images, client: client)
        let (listed, expandIssues) = await ImageList.expand(list, keepRegistry: keepRegistry, concurrency: jobs) { registry, repository in
            try await client.listTags(registry: registry, repository: repository)
        }
        let heads = await Self.headAll(listed, client: client, jobs: jobs)
        var problems = (list.issues + expandIssues).map { (line: $0.line, message: $0.message) }
        var images: [Report.Image] = []
        for (image, head) in zip(listed, heads) {
            var digest: String?
            switch head {
            case .success(let d): digest = d.description
            case .failure(let error):
                problems.append((image.line, "\(image.reference) does not resolve: \((error as? ImgsyncError)?.message ?? "\(error)")"))
            }
            images.append(Report.Image(line: image.line, name: image.name.description, reference: image.reference.description,
                                       platform: image.platform, digest: digest))
        }
        let ordered = problems.enumerated().sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }
            .map { Report.Problem(line: $0.element.line, message: $0.element.message) }
        return Report(source: list.source, lines: list.lineCount, entries: list.entries.count, patterns: list.patternCount,
                      images: images, problems: ordered, ok: ordered.isEmpty)
    }

    /// HEADs every image, `jobs` at a time; results in the order of `images`. An entry with its own
    /// `--platform` is resolved instead (index, then platform selection), so that a platform the
    /// image does not have is a problem on its line, as `imgsync add` refuses it.
    static func headAll(_ images: [ListedImage], client: RegistryClient, jobs: Int) async -> [Result<Digest, any Error>] {
        var results = [Result<Digest, any Error>?](repeating: nil, count: images.count)
        await withTaskGroup(of: (Int, Result<Digest, any Error>).self) { group in
            var next = 0
            func start() {
                let index = next, reference = images[index].reference, platform = images[index].platform
                next += 1
                group.addTask {
                    // Not `return (index, .success(try await …))` inside do/catch: see `Result.capturing`.
                    let result = await Result.capturing { () async throws -> Digest in
                        if let platform {
                            let request = try PlatformRequest(platform, default: .linuxAMD64)
                            return try await client.resolve(reference, for: request)[0].digest
                        }
                        return try await client.headManifest(reference).digest
                    }
                    return (index, result)
                }
            }
            while next < min(jobs, images.count) { start() }
            while let (index, result) = await group.next() {
                results[index] = result
                if next < images.count { start() }
            }
        }
        return results.map { $0! }
    }
}
