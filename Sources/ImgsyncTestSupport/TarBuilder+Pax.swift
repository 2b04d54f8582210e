/// PAX extended (`x`) and global (`g`) headers.
extension TarBuilder {
    /// Queues records for the `x` header of the next entry (or the next GNU record / raw write).
    public mutating func pax(_ records: [PaxRecord]) {
        pendingPax += records
    }

    /// Queues `(key, value)` records for the next entry's `x` header.
    public mutating func pax(_ records: [(String, [UInt8])]) {
        pendingPax += records.map { PaxRecord($0.0, $0.1) }
    }

    /// Writes an `x` header whose data is exactly `data` (a missing newline, a truncated record…).
    public mutating func paxRaw(_ data: some TarBytesConvertible) {
        flushPendingPax()
        writeExtension(typeflag: TarTypeflag.paxExtended, data: data.tarBytes)
    }

    /// Writes a PAX global header (typeflag `g`, named `pax_global_header` as git writes it).
    public mutating func paxGlobal(_ records: [PaxRecord]) {
        writeExtension(typeflag: TarTypeflag.paxGlobal, data: records.flatMap(\.encoded))
    }

    /// Writes a PAX global header from `key: value` pairs, in key order.
    public mutating func paxGlobal(_ records: [String: String]) {
        paxGlobal(records.sorted { $0.key < $1.key }.map { PaxRecord($0.key, $0.value) })
    }
}
