import ArgumentParser
import ImgsyncCore

public struct ApplyCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "apply", abstract: "Apply local layer blobs and publish the tree.")
    public init() {}
    public func run() async throws {}
}
