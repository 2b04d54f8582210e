import ArgumentParser
import Foundation
import ImgsyncCore
import ImgsyncRepository

/// `imgsync catalog`: prints a published image's catalog as JSON Lines (docs/catalog-format.md).
public struct CatalogCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Print the catalog of a published image as JSON Lines, one path per line."
    )

    @OptionGroup var rootOption: RootOption

    @Argument(help: "Published name, e.g. org/image:tag.")
    var name: String

    public init() {}

    public func run() throws {
        let repository = try rootOption.existing()
        let published = try PublishedName(name)
        guard let id = repository.imageID(of: published) else {
            throw ImgsyncError(.invalidArgument, "\(name) is not published in \(repository.root)")
        }
        let entries = try repository.readCatalog(image: id)
        var out = ""
        for e in entries {
            out += CatalogJSON.line(e)
            out += "\n"
            if out.utf8.count > 1 << 20 {
                FileHandle.standardOutput.write(Data(out.utf8))
                out = ""
            }
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}
