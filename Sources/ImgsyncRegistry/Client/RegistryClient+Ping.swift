import Foundation
import ImgsyncCore

extension RegistryClient {
    /// `GET /v2/` (R1): 200 with a JSON body (or the distribution API header) means anonymous access;
    /// 401 carries the challenge to answer before the first repository request; anything else means
    /// this is not a v2 registry.
    func ping(_ registry: String) async throws -> AuthChallenge? {
        var request = RegistryRequest(method: .GET, registry: registry, url: baseURL(registry) + "/v2/", subject: .ping)
        request.authenticate = false
        request.passStatuses = [401, 404]
        let response = try await perform(request)
        defer { response.release() }
        let body = try await collect(response.response, limit: configuration.errorBodyLimit, what: "the /v2/ answer of \(registry)", truncate: true)
        switch response.status {
        case 200:
            let apiHeader = response.headers.first(name: "Docker-Distribution-API-Version")?.lowercased().hasPrefix("registry/2") ?? false
            let isJSON = (try? JSONSerialization.jsonObject(with: Data(body))) != nil
            guard apiHeader || isJSON else {
                throw ImgsyncError(.notARegistry, "not an OCI/Docker v2 registry: \(registry) (/v2/ answered 200 without JSON)")
            }
            return nil
        case 401:
            return try AuthChallenge.select(fromHeaders: response.headers["WWW-Authenticate"], registry: registry)
        default:
            throw ImgsyncError(.notARegistry, "not an OCI/Docker v2 registry: \(registry) (/v2/ answered HTTP \(response.status))")
        }
    }
}
