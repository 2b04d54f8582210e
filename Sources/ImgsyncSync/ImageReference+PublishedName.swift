import ImgsyncCore
import ImgsyncRepository
import ImgsyncRegistry

extension ImageReference {
    /// The name an image is published under (docs/design.md §2), as OSG does: the registry is dropped
    /// (`hub.opensciencegrid.org/htc/rocky:9` → `htc/rocky:9`, `debian` → `library/debian:latest`)
    /// unless `keepRegistry` (DUCC style: `docker.io/library/debian:latest`). A reference with a digest
    /// publishes as `<repository>@sha256:<hex>`, its tag (if any) left out.
    ///
    /// Throws `.invalidArgument` when the result is not a valid `PublishedName` (for example a
    /// bracketed IPv6 registry kept in the name).
    public func publishedName(keepRegistry: Bool = false) throws -> PublishedName {
        let path = keepRegistry ? "\(registry)/\(repository)" : repository
        if let digest { return try PublishedName("\(path)@\(digest)") }
        return try PublishedName("\(path):\(tag ?? "latest")")
    }
}
