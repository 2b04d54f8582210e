import Foundation
import ImgsyncCore

/// The parts of an image configuration (config.md) that imgsync uses: the runtime defaults that the
/// Singularity metadata is made from and the DiffIDs that layer application is checked against.
public struct ImageConfig: Hashable, Sendable {
    public let os: String?
    public let architecture: String?
    public let variant: String?
    public let env: [String]
    public let entrypoint: [String]?
    public let cmd: [String]?
    public let labels: [String: String]
    public let workingDir: String?
    public let user: String?
    /// `created` as the config gives it (RFC 3339), or nil.
    public let created: String?
    /// `rootfs.diff_ids`: sha256 of each layer's uncompressed tar, in layer order.
    public let diffIDs: [Digest]

    /// Parses a config blob. Missing runtime fields are empty; a malformed diff_id is an error.
    public init(parsing body: [UInt8], source: String) throws {
        struct Runtime: Decodable {
            var Env: [String]?
            var Entrypoint: [String]?
            var Cmd: [String]?
            var Labels: [String: String]?
            var WorkingDir: String?
            var User: String?
        }
        struct RootFS: Decodable {
            var type: String?
            var diff_ids: [String]?
        }
        struct Wire: Decodable {
            var created: String?
            var os: String?
            var architecture: String?
            var variant: String?
            var config: Runtime?
            var rootfs: RootFS?
        }
        let wire: Wire
        do {
            wire = try JSONDecoder().decode(Wire.self, from: Data(body))
        } catch {
            throw ImgsyncError(.config, "\(source): malformed image config: \(ManifestDocument.describe(error))")
        }
        created = wire.created
        os = wire.os
        architecture = wire.architecture
        variant = wire.variant
        env = wire.config?.Env ?? []
        entrypoint = wire.config?.Entrypoint
        cmd = wire.config?.Cmd
        labels = wire.config?.Labels ?? [:]
        workingDir = wire.config?.WorkingDir.flatMap { $0.isEmpty ? nil : $0 }
        user = wire.config?.User.flatMap { $0.isEmpty ? nil : $0 }
        diffIDs = try (wire.rootfs?.diff_ids ?? []).map { try RegistryDigest.parse($0, what: "\(source) rootfs.diff_ids") }
    }
}
