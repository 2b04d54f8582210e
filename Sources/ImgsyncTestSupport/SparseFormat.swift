/// How a sparse file is written.
public enum SparseFormat: Sendable, Equatable {
    /// GNU sparse 1.0: PAX `GNU.sparse.major=1`, `minor=0`, `name`, `realsize`; the data area starts
    /// with the decimal map (region count, then offset and size lines) padded to 512 bytes.
    case gnu1_0
    /// Old GNU: typeflag `S`, up to 4 regions in the header at offset 386, `isextended` at 482 and
    /// 21 more regions per extension block, `realsize` at 483.
    case oldGNU
}
