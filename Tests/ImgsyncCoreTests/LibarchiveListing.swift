import CImgsyncArchive

/// An independent reader for checking `TarBuilder` output: libarchive lists every entry of a tar
/// (plain or compressed) with names and link targets as raw bytes and sparse files expanded.
struct LibarchiveListing {
    enum Kind: Equatable {
        case regular, directory, symlink, hardlink, charDevice, blockDevice, fifo, socket
        case other(UInt32)
    }

    struct Entry: Equatable {
        var name: [UInt8]
        var kind: Kind
        var size: Int64
        /// Permission bits (`mode & 07777`).
        var mode: UInt32
        var uid: Int64
        var gid: Int64
        var mtime: Int64
        var mtimeNanoseconds: Int
        /// Symlink or hardlink target.
        var link: [UInt8]?
        var devMajor: UInt64
        var devMinor: UInt64
        var xattrs: [[UInt8]: [UInt8]]
        var sparse: [SparseRegion]
        /// The logical content (holes of sparse files filled with zeros).
        var data: [UInt8]
    }

    struct SparseRegion: Equatable {
        var offset: Int64
        var length: Int64
    }

    var entries: [Entry] = []
    /// libarchive's message when reading stopped before the end of the archive.
    var error: String?
    /// The status that stopped reading (`ARCHIVE_FATAL`, `ARCHIVE_RETRY`…), when `error` is set.
    var errorStatus: Int32?
    var warnings: [String] = []
    var formatName: String?
    var filterNames: [String] = []

    var names: [[UInt8]] { entries.map(\.name) }

    /// Reads `bytes` to the end or the first error. With `readData` false, bodies are skipped.
    static func read(_ bytes: [UInt8], readData: Bool = true) -> LibarchiveListing {
        var listing = LibarchiveListing()
        guard let a = archive_read_new() else { fatalError("archive_read_new") }
        defer { archive_read_free(a) }
        archive_read_support_filter_all(a)
        archive_read_support_format_all(a)
        bytes.withUnsafeBytes { raw in
            guard listing.check(a, archive_read_open_memory(a, raw.baseAddress, raw.count)) else { return }
            var entry: OpaquePointer?
            while true {
                let status = archive_read_next_header(a, &entry)
                if status == ARCHIVE_EOF { break }
                guard listing.check(a, status), let entry else { return }
                if listing.formatName == nil { listing.recordFormat(a) }
                var item = describe(entry)
                if readData {
                    guard listing.readBody(a, into: &item) else {
                        listing.entries.append(item)
                        return
                    }
                }
                listing.entries.append(item)
            }
        }
        return listing
    }

    /// `read(_:)` that throws unless the whole archive was read without error.
    static func entries(_ bytes: [UInt8]) throws -> [Entry] {
        let listing = read(bytes)
        if let error = listing.error { throw ListingError(message: error) }
        return listing.entries
    }

    struct ListingError: Error, CustomStringConvertible {
        var message: String
        var description: String { "libarchive: \(message)" }
    }

    private static func describe(_ e: OpaquePointer) -> Entry {
        let hardlink = archive_entry_hardlink(e).map(bytes(of:))
        let symlink = archive_entry_symlink(e).map(bytes(of:))
        var xattrs: [[UInt8]: [UInt8]] = [:]
        if archive_entry_xattr_reset(e) > 0 {
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            while archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK, let name {
                xattrs[bytes(of: name)] = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            }
        }
        var sparse: [SparseRegion] = []
        if archive_entry_sparse_reset(e) > 0 {
            var offset: la_int64_t = 0
            var length: la_int64_t = 0
            while archive_entry_sparse_next(e, &offset, &length) == ARCHIVE_OK {
                sparse.append(SparseRegion(offset: offset, length: length))
            }
        }
        return Entry(
            name: archive_entry_pathname(e).map(bytes(of:)) ?? [],
            kind: hardlink != nil ? .hardlink : kind(archive_entry_filetype(e)),
            size: archive_entry_size(e),
            mode: UInt32(archive_entry_mode(e)) & 0o7777,
            uid: archive_entry_uid(e),
            gid: archive_entry_gid(e),
            mtime: Int64(archive_entry_mtime(e)),
            mtimeNanoseconds: Int(archive_entry_mtime_nsec(e)),
            link: hardlink ?? symlink,
            devMajor: UInt64(archive_entry_rdevmajor(e)),
            devMinor: UInt64(archive_entry_rdevminor(e)),
            xattrs: xattrs,
            sparse: sparse,
            data: []
        )
    }

    /// Places every data block at its offset; sparse holes (including a trailing one) read as zeros.
    private mutating func readBody(_ a: OpaquePointer, into item: inout Entry) -> Bool {
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        var data: [UInt8] = []
        while true {
            let status = archive_read_data_block(a, &buffer, &size, &offset)
            if status == ARCHIVE_EOF { break }
            guard check(a, status) else {
                item.data = data
                return false
            }
            let end = Int(offset) + size
            if data.count < end { data += [UInt8](repeating: 0, count: end - data.count) }
            if let buffer, size > 0 {
                data.withUnsafeMutableBytes { dst in
                    dst.baseAddress!.advanced(by: Int(offset)).copyMemory(from: buffer, byteCount: size)
                }
            }
        }
        if !item.sparse.isEmpty && Int64(data.count) < item.size {
            data += [UInt8](repeating: 0, count: Int(item.size) - data.count)
        }
        item.data = data
        return true
    }

    /// True to go on; records warnings, and the error that stops reading.
    private mutating func check(_ a: OpaquePointer, _ status: Int32) -> Bool {
        let message = archive_error_string(a).map { String(cString: $0) } ?? "status \(status)"
        if status == ARCHIVE_OK { return true }
        if status == ARCHIVE_WARN {
            warnings.append(message)
            return true
        }
        error = message
        errorStatus = status
        return false
    }

    private mutating func recordFormat(_ a: OpaquePointer) {
        formatName = archive_format_name(a).map { String(cString: $0) }
        for i in 0..<archive_filter_count(a) {
            if let name = archive_filter_name(a, i) { filterNames.append(String(cString: name)) }
        }
    }

    private static func kind(_ type: UInt32) -> Kind {
        switch type & 0o170000 {
        case 0o100000: .regular
        case 0o040000: .directory
        case 0o120000: .symlink
        case 0o020000: .charDevice
        case 0o060000: .blockDevice
        case 0o010000: .fifo
        case 0o140000: .socket
        default: .other(type)
        }
    }

    private static func bytes(of cString: UnsafePointer<CChar>) -> [UInt8] {
        var count = 0
        while cString[count] != 0 { count += 1 }
        return UnsafeRawBufferPointer(start: cString, count: count).map { $0 }
    }
}
