/// One-call entries in the notation of docs/conformance.md §0: `D`, `F`, `L`, `H`, `C`, `B`, `P`, `W`, `O`.
/// Names are written verbatim (give directories their trailing `/` when you want one).
extension TarBuilder {
    /// `D name` (typeflag `5`).
    public mutating func dir(
        _ name: some TarBytesConvertible, mode: Int64 = 0o755, uid: Int64 = 0, gid: Int64 = 0,
        mtime: Int64 = TarBuilder.t0, xattrs: [TarXattr] = [], longName: LongNameStyle = .pax
    ) {
        var e = TarEntry(name, typeflag: TarTypeflag.directory)
        e.mode = mode
        e.uid = uid
        e.gid = gid
        e.mtime = mtime
        e.xattrs = xattrs
        e.longNameStyle = longName
        entry(e)
    }

    /// `F name "body"` (typeflag `0`). `mtimeNanoseconds` ≠ 0 adds a PAX `mtime` record.
    public mutating func file(
        _ name: some TarBytesConvertible, _ body: some TarBytesConvertible = [UInt8](), mode: Int64 = 0o644,
        uid: Int64 = 0, gid: Int64 = 0, uname: String = "", gname: String = "", mtime: Int64 = TarBuilder.t0,
        mtimeNanoseconds: Int = 0, xattrs: [TarXattr] = [], longName: LongNameStyle = .pax
    ) {
        var e = TarEntry(name, typeflag: TarTypeflag.regular, body: body)
        e.mode = mode
        e.uid = uid
        e.gid = gid
        e.uname = Array(uname.utf8)
        e.gname = Array(gname.utf8)
        e.mtime = mtime
        e.mtimeNanoseconds = mtimeNanoseconds
        e.xattrs = xattrs
        e.longNameStyle = longName
        entry(e)
    }

    /// `L name -> target` (typeflag `2`, mode 0777 unless given).
    public mutating func symlink(
        _ name: some TarBytesConvertible, target: some TarBytesConvertible, mode: Int64 = 0o777,
        uid: Int64 = 0, gid: Int64 = 0, mtime: Int64 = TarBuilder.t0, xattrs: [TarXattr] = [],
        longName: LongNameStyle = .pax
    ) {
        var e = TarEntry(name, typeflag: TarTypeflag.symlink)
        e.linkName = target.tarBytes
        e.mode = mode
        e.uid = uid
        e.gid = gid
        e.mtime = mtime
        e.xattrs = xattrs
        e.longNameStyle = longName
        entry(e)
    }

    /// `H name => target` (typeflag `1`, size 0).
    public mutating func hardlink(
        _ name: some TarBytesConvertible, target: some TarBytesConvertible, mode: Int64 = 0o644,
        uid: Int64 = 0, gid: Int64 = 0, mtime: Int64 = TarBuilder.t0, longName: LongNameStyle = .pax
    ) {
        var e = TarEntry(name, typeflag: TarTypeflag.hardlink)
        e.linkName = target.tarBytes
        e.mode = mode
        e.uid = uid
        e.gid = gid
        e.mtime = mtime
        e.longNameStyle = longName
        entry(e)
    }

    /// `C name major:minor` (typeflag `3`). Values that do not fit octal are written in base-256.
    public mutating func charDevice(
        _ name: some TarBytesConvertible, major: Int64, minor: Int64, mode: Int64 = 0o644,
        uid: Int64 = 0, gid: Int64 = 0, mtime: Int64 = TarBuilder.t0
    ) {
        device(name, TarTypeflag.charDevice, major, minor, mode, uid, gid, mtime)
    }

    /// `B name major:minor` (typeflag `4`).
    public mutating func blockDevice(
        _ name: some TarBytesConvertible, major: Int64, minor: Int64, mode: Int64 = 0o644,
        uid: Int64 = 0, gid: Int64 = 0, mtime: Int64 = TarBuilder.t0
    ) {
        device(name, TarTypeflag.blockDevice, major, minor, mode, uid, gid, mtime)
    }

    /// `P name` (typeflag `6`).
    public mutating func fifo(
        _ name: some TarBytesConvertible, mode: Int64 = 0o644, uid: Int64 = 0, gid: Int64 = 0,
        mtime: Int64 = TarBuilder.t0
    ) {
        device(name, TarTypeflag.fifo, 0, 0, mode, uid, gid, mtime)
    }

    /// `W name`: an empty regular file, e.g. `"etc/.wh.passwd"`.
    public mutating func whiteout(_ name: some TarBytesConvertible) {
        entry(TarEntry(name, typeflag: TarTypeflag.regular))
    }

    /// `O dir/`: the opaque marker `dir/.wh..wh..opq` (`""` gives the root marker).
    public mutating func opaque(_ dirName: some TarBytesConvertible) {
        var name = dirName.tarBytes
        if !name.isEmpty && name.last != 0x2F { name.append(0x2F) }
        whiteout(name + Array(".wh..wh..opq".utf8))
    }

    private mutating func device(
        _ name: some TarBytesConvertible, _ typeflag: UInt8, _ major: Int64, _ minor: Int64,
        _ mode: Int64, _ uid: Int64, _ gid: Int64, _ mtime: Int64
    ) {
        var e = TarEntry(name, typeflag: typeflag)
        e.devMajor = major
        e.devMinor = minor
        e.mode = mode
        e.uid = uid
        e.gid = gid
        e.mtime = mtime
        entry(e)
    }
}
