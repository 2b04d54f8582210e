/// Everything the builder needs to write one entry: the logical fields, the PAX records and long-name
/// style they imply, and raw overrides for crafted headers. Defaults follow docs/conformance.md §0.
public struct TarEntry: Sendable, Equatable {
    /// The entry name; longer than 100 bytes → a record chosen by `longNameStyle`.
    public var name: [UInt8]
    /// The raw typeflag byte (see `TarTypeflag`).
    public var typeflag: UInt8
    public var body: [UInt8] = []
    public var mode: Int64 = 0o644
    public var uid: Int64 = 0
    public var gid: Int64 = 0
    public var uname: [UInt8] = []
    public var gname: [UInt8] = []
    public var mtime: Int64 = TarBuilder.t0
    /// Non-zero → a PAX `mtime=<sec>.<ns>` record.
    public var mtimeNanoseconds: Int = 0
    /// Symlink or hardlink target.
    public var linkName: [UInt8] = []
    public var devMajor: Int64 = 0
    public var devMinor: Int64 = 0
    public var xattrs: [TarXattr] = []
    /// Extra PAX records written (in order, before the derived ones) in this entry's `x` header.
    public var paxRecords: [PaxRecord] = []
    public var longNameStyle: LongNameStyle = .pax
    public var overrides = TarHeaderOverrides()

    public init(_ name: some TarBytesConvertible, typeflag: UInt8, body: some TarBytesConvertible = [UInt8]()) {
        self.name = name.tarBytes
        self.typeflag = typeflag
        self.body = body.tarBytes
    }
}
