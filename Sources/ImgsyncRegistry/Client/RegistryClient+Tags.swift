import Foundation
import ImgsyncCore

extension RegistryClient {
    /// Every tag of a repository, in the registry's order (R47–R49). Pages are followed through `Link:
    /// <…>; rel="next"` (resolved against the request URL, same origin only); a registry without `Link`
    /// is paged with `n`/`last` while pages hold exactly `n` new tags. A URL seen twice is `.paginationLoop`. Tags that do
    /// not match the tag grammar are dropped with a warning and never used in a URL or path.
    public func listTags(registry: String, repository: String, pageSize: Int? = nil) async throws -> [String] {
        let base = baseURL(registry)
        let first = base + "/v2/\(repository)/tags/list" + (pageSize.map { "?n=\($0)" } ?? "")
        var next: URL? = URL(string: first)
        var visited: Set<String> = []
        var raw: [String] = []
        let registryOrigin = Origin(URL(string: base)!)
        let label = "\(registry)/\(repository)"
        while let url = next {
            guard visited.insert(url.absoluteString).inserted else {
                throw ImgsyncError(.paginationLoop, "tags of \(label): the registry sent page \(url.absoluteString.debugQuoted) twice")
            }
            guard visited.count <= 10_000 else {
                throw ImgsyncError(.limit, "tags of \(label): more than 10000 pages")
            }
            var request = RegistryRequest(method: .GET, registry: registry, url: url.absoluteString, subject: .tags(repository: repository))
            request.headers.add(name: "Accept", value: "application/json")
            request.scopes = [.pull(repository)]
            let response = try await perform(request)
            defer { response.release() }
            let body = try await collect(response.response, limit: configuration.manifestLimit, what: "tag list of \(label)")
            struct Page: Decodable { var tags: [String]? }
            guard let page = try? JSONDecoder().decode(Page.self, from: Data(body)) else {
                throw ImgsyncError(.server, "tags of \(label): the registry's answer is not a tag list\(RegistryErrorBody.summary(body))")
            }
            let tags = page.tags ?? []
            let known = Set(raw)
            let addsNothing = !tags.isEmpty && tags.allSatisfy(known.contains)
            raw += tags
            next = nil
            if let link = HeaderParsing.nextLink(response.headers["Link"]) {
                guard let target = URL(string: link, relativeTo: response.url)?.absoluteURL else {
                    throw ImgsyncError(.server, "tags of \(label): unusable Link \(link.debugQuoted)")
                }
                guard Origin(target) == registryOrigin else {
                    throw ImgsyncError(.forbiddenTarget, "tags of \(label): the next page is on another host (\(target.host ?? "?")); refused")
                }
                next = target
            } else if let n = pageSize, n > 0, tags.count == n, !addsNothing, let last = tags.last {
                // Only a page of exactly n is "full": a registry that ignores n (distribution 2.8 does)
                // returns everything at once, and one that ignores last repeats a page.
                guard TagName.isValid(last) else {
                    logger.warning("tags of \(label): cannot page past the invalid tag \(last.debugQuoted); the list may be incomplete")
                    break
                }
                next = URL(string: base + "/v2/\(repository)/tags/list?n=\(n)&last=\(last)")
            }
        }
        var seen: Set<String> = []
        let unique = raw.filter { seen.insert($0).inserted }
        let (valid, invalid) = TagName.partition(unique)
        if !invalid.isEmpty {
            logger.warning("tags of \(label): ignoring \(invalid.count) invalid tag(s): \(invalid.prefix(5).map(\.debugQuoted).joined(separator: ", "))")
        }
        return valid
    }
}
