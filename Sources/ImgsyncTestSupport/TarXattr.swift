/// An extended attribute carried in the entry's PAX header.
public struct TarXattr: Sendable, Equatable {
    /// How the attribute is spelled in the PAX header.
    public enum Encoding: Sendable, Equatable {
        /// `SCHILY.xattr.<name>=<raw value>` (GNU tar, star, Go, containerd).
        case schily
        /// `LIBARCHIVE.xattr.<url-encoded name>=<base64 value>` (bsdtar).
        case libarchive
    }

    public var name: [UInt8]
    public var value: [UInt8]
    public var encoding: Encoding

    public init(_ name: some TarBytesConvertible, _ value: some TarBytesConvertible, encoding: Encoding = .schily) {
        self.name = name.tarBytes
        self.value = value.tarBytes
        self.encoding = encoding
    }

    /// A `SCHILY.xattr.*` attribute.
    public static func schily(_ name: some TarBytesConvertible, _ value: some TarBytesConvertible) -> TarXattr {
        TarXattr(name, value, encoding: .schily)
    }

    /// A `LIBARCHIVE.xattr.*` attribute.
    public static func libarchive(_ name: some TarBytesConvertible, _ value: some TarBytesConvertible) -> TarXattr {
        TarXattr(name, value, encoding: .libarchive)
    }

    /// The PAX record for this attribute.
    public var paxRecord: PaxRecord {
        switch encoding {
        case .schily: return .schilyXattr(name, value)
        case .libarchive: return .libarchiveXattr(name, value)
        }
    }
}
