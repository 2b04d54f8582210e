// The repository's API speaks in the layer engine's types (`LinkMode`, `CatalogEntry`, `LayerInput`'s
// sources and expectations): importing ImgsyncRepository imports ImgsyncCore (and so ImgsyncBase) too.
@_exported import ImgsyncCore
