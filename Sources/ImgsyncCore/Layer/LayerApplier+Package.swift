/// What the repository module (ImageBuilder, verify's rebuild) uses of the applier beyond its
/// public API: the applier's own members stay internal to the layer engine.
extension LayerApplier {
    /// `load(_:)`: materialises a tree from a catalog and the object store.
    package func load(catalog entries: [CatalogEntry], trustHints: Bool = true) throws { try load(entries, trustHints: trustHints) }

    /// `lookupType(_:)`: what a path is in the tree being built.
    package func type(at path: PathBytes) -> CatalogEntryType? { lookupType(path) }

    /// `lookupLinkTarget(_:)`: the target of the symlink at a path in the tree being built.
    package func linkTarget(at path: PathBytes) -> PathBytes? { lookupLinkTarget(path) }
}
