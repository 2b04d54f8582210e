/// Error texts shared by the two gzip engines, so that ISA-L and zlib fail with the same words.
enum GzipMessages {
    static func hex(_ value: UInt32, digits: Int = 8) -> String {
        let text = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    static func bytes(_ prefix: some Collection<UInt8>) -> String {
        prefix.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: " ")
    }

    /// Names every trailer field that disagrees with what was decompressed.
    static func trailerMismatch(
        member: Int, storedCRC: UInt32?, computedCRC: UInt32, storedSize: UInt32?, computedSize: UInt32
    ) -> ImgsyncError {
        var problems: [String] = []
        if let storedCRC, storedCRC != computedCRC {
            problems.append("CRC32 mismatch (stored \(hex(storedCRC)), computed \(hex(computedCRC)))")
        }
        if let storedSize, storedSize != computedSize {
            problems.append("ISIZE mismatch (stored \(storedSize), computed \(computedSize), mod 2^32)")
        }
        if problems.isEmpty { problems.append("trailer check failed") }
        return ImgsyncError(
            .decompress,
            "gzip member \(member): \(problems.joined(separator: " and ")); the layer blob is corrupt"
        )
    }

    /// `detail` says what was found instead of the magic bytes.
    static func notAMember(member: Int, offset: UInt64, detail: String) -> ImgsyncError {
        if member == 1 {
            return ImgsyncError(
                .decompress, "not a gzip stream: expected magic bytes 1f 8b at offset 0 (\(detail))")
        }
        return ImgsyncError(
            .decompress,
            "gzip member \(member - 1) is followed by bytes that are not a gzip member "
                + "(expected magic bytes 1f 8b at compressed offset \(offset); \(detail))"
        )
    }

    static func truncated(member: Int, memberStart: UInt64, offset: UInt64, inside part: String) -> ImgsyncError {
        ImgsyncError(
            .truncated,
            "gzip member \(member) (starting at compressed offset \(memberStart)) ends inside its \(part) "
                + "after \(offset) compressed bytes; the layer blob is truncated"
        )
    }
}
