import ImgsyncCore
import ImgsyncRepository
import ImgsyncRegistry

/// Settings that shape every published path (`--keep-registry`) are a property of the repository,
/// like `--world-readable` (design §3 step 6): the first sync records them, later runs follow them,
/// and a run that asks for the other value is refused before anything changes, unless it is told
/// to migrate (`--migrate-paths`: every name is republished under its new path and the old paths
/// are removed).
public enum PathSettings {
    /// Whether `state`'s names keep the registry: the recorded setting, or for a state written
    /// before it was recorded, what its names show; nil when nothing tells.
    public static func recordedKeepRegistry(_ state: RepositoryState) -> Bool? {
        if let recorded = state.keepRegistry { return recorded }
        for record in state.names.values.sorted(by: { $0.name < $1.name }) {
            guard let reference = try? ImageReference(parsing: record.reference) else { continue }
            return record.name.hasPrefix(reference.registry + "/")
        }
        return nil
    }

    /// The `--keep-registry` value a run uses: `requested` when given and consistent with the
    /// repository, else what the repository recorded, else off. Throws `.config` when `requested`
    /// contradicts the repository and `migrate` is not set. `syncOptions`: the command has sync's
    /// `--no-keep-registry` and `--migrate-paths` (`add` has only `--keep-registry`), so the
    /// message may suggest them.
    public static func keepRegistry(requested: Bool?, recorded: Bool?, migrate: Bool, root: String, syncOptions: Bool = true) throws -> Bool {
        if let requested, let recorded, requested != recorded, !migrate {
            let advice = syncOptions
                ? "Pass \(recorded ? "--keep-registry" : "--no-keep-registry") (or nothing: runs follow the repository), "
                    + "or --migrate-paths to republish every name under its new path"
                : "Leave out --keep-registry (runs follow the repository); `imgsync sync --migrate-paths` republishes every name under its new path"
            throw ImgsyncError(.config, "the names in \(root) were published \(recorded ? "with" : "without") --keep-registry; "
                + "running \(requested ? "with" : "without") it would move every name to another path. " + advice)
        }
        return requested ?? recorded ?? false
    }

    /// The same for the repository at `root`, read without creating anything.
    public static func keepRegistry(requested: Bool?, migrate: Bool, root: String, syncOptions: Bool = true) throws -> Bool {
        let recorded = try Repository.readState(root: root).flatMap(recordedKeepRegistry)
        return try keepRegistry(requested: requested, recorded: recorded, migrate: migrate, root: root, syncOptions: syncOptions)
    }
}
