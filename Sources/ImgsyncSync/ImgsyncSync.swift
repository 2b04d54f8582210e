/// The sync engine: reads the image list, resolves every entry against its registry, builds what
/// changed through the layer engine, publishes atomically and unpublishes what left the list
/// (docs/design.md §3). See docs/architecture.md.
public enum ImgsyncSync {
    /// The platform used when neither the list line nor the command line names one.
    public static let defaultPlatform = "linux/amd64"
}
