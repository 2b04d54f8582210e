import ImgsyncCore

/// Which hosts the client may be sent to by a server: redirect targets, token realms, foreign URLs and
/// pagination links (R13, R36–R40, R47). A link-local, private, loopback or unspecified literal address
/// is refused unless it is the registry's own host or it is allow-listed. Host names are not resolved, so a DNS name pointing inwards is not
/// caught here (the same limit as ggcr's and regclient's checks).
public struct NetworkPolicy: Sendable {
    /// Hosts (without port) that may be targeted whatever their address class.
    public var allowedHosts: Set<String>

    public init(allowedHosts: Set<String> = []) { self.allowedHosts = allowedHosts }

    enum AddressClass: Equatable {
        case publicAddress, loopback, privateNetwork, linkLocal, unspecified
    }

    /// Throws `.forbiddenTarget` when `host` (no port) may not be used for a request made on behalf of
    /// `registryHost` (no port). `purpose` names what sent us there.
    public func check(host: String, registryHost: String, purpose: String) throws {
        if allowedHosts.contains(host) || host == registryHost { return }
        let target = Self.classify(host)
        if target == .publicAddress { return }
        let kind = switch target {
        case .linkLocal: "link-local"
        case .unspecified: "unspecified"
        case .loopback: "loopback"
        default: "private-network"
        }
        throw ImgsyncError(.forbiddenTarget, "\(purpose) points to \(host), a \(kind) address that is not the registry's own; refused (pass --allow-host \(host) to permit it)")
    }

    static func classify(_ rawHost: String) -> AddressClass {
        var host = rawHost.lowercased()
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" || host.hasSuffix(".localhost") { return .loopback }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4, let o = Optional(parts.compactMap { UInt8($0) }), o.count == 4 {
            switch (o[0], o[1]) {
            case (127, _): return .loopback
            case (10, _), (192, 168), (100, 64...127): return .privateNetwork
            case (172, 16...31): return .privateNetwork
            case (169, 254): return .linkLocal
            case (0, _): return .unspecified
            default: return .publicAddress
            }
        }
        if host.contains(":") {
            if host == "::1" { return .loopback }
            if host == "::" { return .unspecified }
            if host.hasPrefix("fe8") || host.hasPrefix("fe9") || host.hasPrefix("fea") || host.hasPrefix("feb") { return .linkLocal }
            if host.hasPrefix("fc") || host.hasPrefix("fd") { return .privateNetwork }
            if host.hasPrefix("::ffff:") { return classify(String(host.dropFirst(7))) }
        }
        return .publicAddress
    }
}
