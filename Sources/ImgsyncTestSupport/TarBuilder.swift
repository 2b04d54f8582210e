/// Builds tar streams in memory, entry by entry, including deliberately malformed ones.
///
/// Each call appends records to `bytes` in call order. PAX records queued with `pax(_:)` go into the
/// `x` header of the next entry (merged with the records the entry itself needs). `build()` returns the
/// stream with the end-of-archive marker; `drain()` hands out what is written so far, for streaming.
public struct TarBuilder: Sendable {
    /// Default mtime T0 of docs/conformance.md §0: 2020-01-01T00:00:00Z.
    public static let t0: Int64 = 1_577_836_800
    public static let blockSize = 512

    /// The stream written so far (without the end-of-archive marker unless `endOfArchive` was called).
    public private(set) var bytes: [UInt8] = []
    var pendingPax: [PaxRecord] = []

    public init() {}

    /// Builds a complete stream in one expression: `TarBuilder.tar { $0.file("a", "a") }`.
    public static func tar(zeroBlocks: Int = 2, _ entries: (inout TarBuilder) -> Void) -> [UInt8] {
        var builder = TarBuilder()
        entries(&builder)
        return builder.build(zeroBlocks: zeroBlocks)
    }

    /// The finished stream: what was written, any queued PAX records as a dangling `x` header, then
    /// `zeroBlocks` zero blocks (2 is the standard end-of-archive marker; 0 or 1 for truncated ends).
    public func build(zeroBlocks: Int = 2) -> [UInt8] {
        var copy = self
        copy.flushPendingPax()
        copy.endOfArchive(zeroBlocks: zeroBlocks)
        return copy.bytes
    }

    /// Appends `zeroBlocks` zero blocks.
    public mutating func endOfArchive(zeroBlocks: Int = 2) {
        bytes += [UInt8](repeating: 0, count: zeroBlocks * Self.blockSize)
    }

    /// Appends bytes verbatim (trailing garbage, partial headers).
    public mutating func appendRaw(_ raw: some TarBytesConvertible) {
        flushPendingPax()
        bytes += raw.tarBytes
    }

    /// Returns and forgets the bytes written so far; later calls continue the same stream.
    public mutating func drain() -> [UInt8] {
        defer { bytes = [] }
        return bytes
    }

    /// Writes one entry with its extension records: a PAX `x` header (queued records, `paxRecords`,
    /// then derived `path`, `linkpath`, `mtime`, xattrs), GNU `K` / `L` records, the header, the body.
    public mutating func entry(_ entry: TarEntry) {
        self.entry(entry, patchHeader: { _ in }, extensionBlocks: [])
    }

    /// `entry(_:)` with a hook that edits the finished header before its checksum is computed, and
    /// whole blocks written between the header and the body (old GNU sparse extension headers).
    mutating func entry(_ entry: TarEntry, patchHeader: (inout TarHeaderBlock) -> Void, extensionBlocks: [[UInt8]]) {
        var records = pendingPax + entry.paxRecords
        pendingPax = []
        var gnuName: [UInt8]?
        var gnuLink: [UInt8]?
        var nameField = entry.name
        var prefixField: [UInt8] = []

        if let raw = entry.overrides.nameField {
            nameField = raw
        } else if entry.name.count > 100 {
            switch entry.longNameStyle {
            case .pax: records.append(.path(entry.name))
            case .gnu: gnuName = entry.name
            case .ustarPrefix: (prefixField, nameField) = Self.splitForPrefix(entry.name)
            }
        }
        if let raw = entry.overrides.prefixField { prefixField = raw }

        var linkField = entry.linkName
        if let raw = entry.overrides.linkNameField {
            linkField = raw
        } else if entry.linkName.count > 100 {
            if entry.longNameStyle == .gnu { gnuLink = entry.linkName } else { records.append(.linkpath(entry.linkName)) }
        }
        if entry.mtimeNanoseconds != 0 {
            records.append(.mtime(seconds: entry.mtime, nanoseconds: entry.mtimeNanoseconds))
        }
        records += entry.xattrs.map(\.paxRecord)

        if !records.isEmpty { writeExtension(typeflag: TarTypeflag.paxExtended, data: records.flatMap(\.encoded)) }
        if let gnuLink { gnuLongRecord(TarTypeflag.gnuLongLink, gnuLink) }
        if let gnuName { gnuLongRecord(TarTypeflag.gnuLongName, gnuName) }

        var header = TarHeaderBlock()
        let o = entry.overrides
        header.set(nameField, TarHeaderBlock.Field.name)
        setNumber(&header, o.mode, entry.mode, TarHeaderBlock.Field.mode)
        setNumber(&header, o.uid, entry.uid, TarHeaderBlock.Field.uid)
        setNumber(&header, o.gid, entry.gid, TarHeaderBlock.Field.gid)
        setNumber(&header, o.size, Int64(entry.body.count), TarHeaderBlock.Field.size)
        setNumber(&header, o.mtime, entry.mtime, TarHeaderBlock.Field.mtime)
        header.set([entry.typeflag], TarHeaderBlock.Field.typeflag)
        header.set(linkField, TarHeaderBlock.Field.linkName)
        header.set(o.magic ?? TarHeaderBlock.ustarMagic, TarHeaderBlock.Field.magic)
        header.set(o.version ?? TarHeaderBlock.ustarVersion, TarHeaderBlock.Field.version)
        header.set(entry.uname, TarHeaderBlock.Field.uname)
        header.set(entry.gname, TarHeaderBlock.Field.gname)
        setNumber(&header, o.devMajor, entry.devMajor, TarHeaderBlock.Field.devMajor)
        setNumber(&header, o.devMinor, entry.devMinor, TarHeaderBlock.Field.devMinor)
        header.set(prefixField, TarHeaderBlock.Field.prefix)
        patchHeader(&header)
        header.finalize(checksum: o.checksum)
        bytes += header.bytes
        for block in extensionBlocks { writeBody(block, pad: true) }
        writeBody(entry.body, pad: o.padBody)
    }

    /// Writes a GNU `././@LongLink` record (`typeflag` `L` or `K`) immediately. The data is the name
    /// plus a terminating NUL unless `nulTerminated` is false.
    public mutating func gnuLongRecord(_ typeflag: UInt8, _ name: some TarBytesConvertible, nulTerminated: Bool = true) {
        writeExtension(typeflag: typeflag, data: name.tarBytes + (nulTerminated ? [0] : []), gnu: true)
    }

    // MARK: - Internals shared by the extensions

    mutating func flushPendingPax() {
        guard !pendingPax.isEmpty else { return }
        let data = pendingPax.flatMap(\.encoded)
        pendingPax = []
        writeExtension(typeflag: TarTypeflag.paxExtended, data: data)
    }

    /// A pseudo-entry carrying `data`: PAX `x`/`g` headers and GNU long-name records.
    mutating func writeExtension(typeflag: UInt8, data: [UInt8], gnu: Bool = false, name: String? = nil) {
        if typeflag != TarTypeflag.paxExtended { flushPendingPax() }
        var header = TarHeaderBlock()
        let defaultName = typeflag == TarTypeflag.paxGlobal ? "pax_global_header"
            : gnu ? "././@LongLink" : "././@PaxHeader"
        header.set(Array((name ?? defaultName).utf8), TarHeaderBlock.Field.name)
        header.setNumber(0o644, TarHeaderBlock.Field.mode)
        header.setNumber(0, TarHeaderBlock.Field.uid)
        header.setNumber(0, TarHeaderBlock.Field.gid)
        header.setNumber(Int64(data.count), TarHeaderBlock.Field.size)
        header.setNumber(0, TarHeaderBlock.Field.mtime)
        header.set([typeflag], TarHeaderBlock.Field.typeflag)
        header.set(gnu ? TarHeaderBlock.gnuMagic : TarHeaderBlock.ustarMagic, TarHeaderBlock.Field.magic)
        header.set(gnu ? TarHeaderBlock.gnuVersion : TarHeaderBlock.ustarVersion, TarHeaderBlock.Field.version)
        header.finalize()
        bytes += header.bytes
        writeBody(data, pad: true)
    }

    mutating func writeBody(_ body: [UInt8], pad: Bool) {
        bytes += body
        let rest = body.count % Self.blockSize
        if pad && rest != 0 { bytes += [UInt8](repeating: 0, count: Self.blockSize - rest) }
    }

    private func setNumber(_ header: inout TarHeaderBlock, _ override: TarNumber?, _ value: Int64,
                           _ field: (offset: Int, width: Int)) {
        if let override { header.setNumber(override, field) } else { header.setNumber(value, field) }
    }

    /// Splits at the last `/` that leaves a name ≤ 100 and a prefix ≤ 155 bytes.
    static func splitForPrefix(_ name: [UInt8]) -> (prefix: [UInt8], name: [UInt8]) {
        for i in stride(from: name.count - 1, through: 1, by: -1) where name[i] == 0x2F {
            let rest = name.count - i - 1
            if rest > 100 { break }
            if i <= 155 && rest > 0 { return (Array(name[..<i]), Array(name[(i + 1)...])) }
        }
        preconditionFailure("no '/' splits \(name.count) bytes into prefix ≤ 155 and name ≤ 100")
    }
}
