/// How a name or link target longer than the 100-byte ustar field is written.
public enum LongNameStyle: Sendable, Equatable {
    /// PAX `path` / `linkpath` records in an `x` header; the ustar field keeps the first 100 bytes.
    case pax
    /// GNU `././@LongLink` records: typeflag `L` for the name, `K` for the link target.
    case gnu
    /// The ustar `prefix` field: the name is split at a `/` (name ≤ 100, prefix ≤ 155). Link targets
    /// have no prefix field, so a long link target still gets a PAX `linkpath` record.
    case ustarPrefix
}
