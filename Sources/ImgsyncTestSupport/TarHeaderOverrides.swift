/// Raw header fields that replace what the builder would derive from a `TarEntry`, for crafting
/// malformed or unusual headers. `nil` means "derive it".
public struct TarHeaderOverrides: Sendable, Equatable {
    /// The 100-byte name field verbatim; no long-name record or prefix split is generated.
    public var nameField: [UInt8]?
    /// The 155-byte ustar `prefix` field verbatim.
    public var prefixField: [UInt8]?
    /// The 100-byte linkname field verbatim; no long-link record is generated.
    public var linkNameField: [UInt8]?
    public var mode: TarNumber?
    public var uid: TarNumber?
    public var gid: TarNumber?
    /// The declared size, independent of the body bytes actually written.
    public var size: TarNumber?
    public var mtime: TarNumber?
    public var devMajor: TarNumber?
    public var devMinor: TarNumber?
    public var checksum: TarChecksum?
    /// The 6-byte magic field (default `"ustar\0"`; GNU records use `"ustar "`).
    public var magic: [UInt8]?
    /// The 2-byte version field (default `"00"`; GNU records use `" \0"`).
    public var version: [UInt8]?
    /// Pad the body with zeros to a 512-byte boundary (turn off to end a stream mid-body).
    public var padBody: Bool = true

    public init(
        nameField: [UInt8]? = nil, prefixField: [UInt8]? = nil, linkNameField: [UInt8]? = nil,
        mode: TarNumber? = nil, uid: TarNumber? = nil, gid: TarNumber? = nil, size: TarNumber? = nil,
        mtime: TarNumber? = nil, devMajor: TarNumber? = nil, devMinor: TarNumber? = nil,
        checksum: TarChecksum? = nil, magic: [UInt8]? = nil, version: [UInt8]? = nil, padBody: Bool = true
    ) {
        self.nameField = nameField
        self.prefixField = prefixField
        self.linkNameField = linkNameField
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.mtime = mtime
        self.devMajor = devMajor
        self.devMinor = devMinor
        self.checksum = checksum
        self.magic = magic
        self.version = version
        self.padBody = padBody
    }
}
