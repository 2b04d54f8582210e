import ArgumentParser
import Foundation
import ImgsyncCore
import ImgsyncSync

/// `imgsync remove <ref>`: deletes the lines listing a reference, keeping everything else.
public struct RemoveCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove an image reference (or tag pattern) from the image list.",
        discussion: """
            Lines match by normalised reference, so `remove debian` removes `docker.io/library/debian:latest` \
            (and `debian:latest`), whatever their --platform. Comments stay. The next sync unpublishes \
            the name. Exit status: 0 removed, 1 not listed, 2 unusable list or invocation.
            """
    )

    @Argument(help: "Image reference or tag pattern as listed, in any equivalent spelling.")
    var reference: String

    @Option(help: "The image list file to edit.")
    var images: String = "images.txt"

    public init() {}

    public func validate() throws {
        do {
            _ = try ImageList.parseReference(reference)
        } catch let error as ImgsyncError {
            throw ValidationError(error.message)
        }
    }

    public func run() async throws {
        let status = try execute(console: .standard)
        if status != 0 { throw ExitCode(status) }
    }

    func execute(console: CommandConsole) throws -> Int32 {
        do {
            var document = try ImageListDocument.read(images)
            let removed = try document.remove(reference)
            try document.write(to: images)
            for entry in removed {
                console.out("removed \(images):\(entry.line): \(entry.text)\(entry.platform.map { " --platform \($0)" } ?? "")")
            }
            return 0
        } catch let error as ImageListUnreadable {
            console.err("error: \(error)")
            return 2
        } catch let error as ImageListEditError {
            console.err("error: \(error.message)")
            return error.kind == .invalidEntry ? 2 : 1
        }
    }
}
