import ImgsyncSync

extension ImageListEntry {
    /// Whether a push updates what this line publishes: the same registry and repository, and the
    /// line's tag (or a tag its pattern matches), or the line's digest.
    public func isUpdated(by push: RegistryPush) -> Bool {
        guard reference.registry == push.registry, reference.repository == push.repository else { return false }
        if let pattern {
            return push.tag.map(pattern.matches) ?? false
        }
        if let digest = reference.digest {
            return push.digest == digest.description
        }
        return push.tag != nil && push.tag == reference.tag
    }
}

extension ImageList {
    /// The lines of the entries `pushes` update (empty: every push is for something not listed).
    public func lines(updatedBy pushes: some Sequence<RegistryPush>) -> Set<Int> {
        var lines: Set<Int> = []
        for push in pushes {
            for entry in entries where entry.isUpdated(by: push) {
                lines.insert(entry.line)
            }
        }
        return lines
    }
}
