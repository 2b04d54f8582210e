// The layer engine builds on the base module's error type, digests, system calls and byte paths, and
// its public API speaks in them (`ImgsyncError`, `Digest`, `PathBytes`): importing ImgsyncCore imports
// them too, as it did before they moved to their own module.
@_exported import ImgsyncBase
