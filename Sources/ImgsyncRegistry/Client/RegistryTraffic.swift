import Foundation
import NIOHTTP1

/// What one client asked of one registry and received from it: requests by kind, and body bytes.
/// Every HTTP request sent counts (retries, redirect hops and resumed downloads included), so the
/// figures are what the registry saw, not what the run needed.
public struct RegistryTraffic: Codable, Sendable, Equatable {
    /// Requests by kind: `HEAD manifest`, `GET manifest`, `GET blob`, `GET token` (or `POST token`),
    /// `GET ping`, `GET tags`.
    public var requests: [String: Int] = [:]
    /// Body bytes of blobs (layers and configs) and manifests as received (before decompression of
    /// a layer, after any transport encoding was undone).
    public var bytes: Int64 = 0
    /// Set when the client stopped asking this registry during the run: why ("request budget of
    /// 200 spent", or what the registry answered). Nil when it was never stopped.
    public var stopped: String?
    /// Requests not sent because the registry was stopped (with `stopped`).
    public var refused: Int?
    /// Images of the list that failed because the registry was stopped (filled in by the sync).
    public var imagesNotSynced: Int?

    public init(requests: [String: Int] = [:], bytes: Int64 = 0) {
        self.requests = requests
        self.bytes = bytes
    }

    /// All requests of every kind.
    public var total: Int { requests.values.reduce(0, +) }

    /// Requests of one kind (0 when none).
    public func count(_ kind: String) -> Int { requests[kind] ?? 0 }
}

/// The client's running totals per registry (canonical name, e.g. `127.0.0.1:5443` or `docker.io`).
final class TrafficLog: @unchecked Sendable {
    // @unchecked: `byRegistry` is only touched under `lock`.
    private let lock = NSLock()
    private var byRegistry: [String: RegistryTraffic] = [:]

    func request(_ registry: String, _ method: HTTPMethod, _ what: String) {
        lock.withLock { byRegistry[registry, default: RegistryTraffic()].requests["\(method.rawValue) \(what)", default: 0] += 1 }
    }

    func received(_ registry: String, bytes: Int) {
        lock.withLock { byRegistry[registry, default: RegistryTraffic()].bytes += Int64(bytes) }
    }

    var snapshot: [String: RegistryTraffic] { lock.withLock { byRegistry } }
}

extension RegistryClient {
    /// Requests and bytes per registry since this client was made (for the sync report), with the
    /// registries stopped in the current run and why.
    public var traffic: [String: RegistryTraffic] {
        var out = trafficLog.snapshot
        for (registry, stop) in stoppedRegistries {
            out[registry, default: RegistryTraffic()].stopped = stop.reason
            out[registry]!.refused = stop.refused
        }
        return out
    }
}

extension RegistryRequest.Subject {
    /// How `RegistryTraffic` names requests about this subject.
    var trafficKind: String {
        switch self {
        case .ping: return "ping"
        case .manifest: return "manifest"
        case .blob: return "blob"
        case .tags: return "tags"
        }
    }
}
