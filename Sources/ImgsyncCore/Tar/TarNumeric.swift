/// Numeric header fields: octal text (NUL/space padded) or GNU base-256 (high bit set).
///
/// Every value here comes from the layer, so every step is checked: a number that does not fit
/// `Int64` is malformed (nil), never a trap.
enum TarNumeric {
    /// Parses a numeric field. Returns nil on malformed input (caller reports `.tarFormat`).
    static func parse(_ field: UnsafeRawBufferPointer) -> Int64? {
        guard let first = field.first else { return 0 }
        if first & 0x80 != 0 {
            // Base-256, two's complement; 0xFF lead means negative.
            let negative = first == 0xFF
            var value: Int64 = negative ? -1 : 0
            for (i, byte) in field.enumerated() {
                let b = i == 0 ? (negative ? byte : byte & 0x7F) : byte
                // More than 63 significant bits cannot be represented.
                if !negative && value > (Int64.max >> 8) { return nil }
                if negative && value < (Int64.min >> 8) { return nil }
                value = (value << 8) | Int64(b)
            }
            return value
        }
        var value: Int64 = 0
        var i = 0
        let n = field.count
        while i < n && (field[i] == 0x20) { i += 1 }
        while i < n {
            let c = field[i]
            guard c >= 0x30 && c <= 0x37 else { break }
            if value > (Int64.max >> 3) { return nil }
            value = value << 3 | Int64(c - 0x30)
            i += 1
        }
        // The rest must be terminators.
        while i < n {
            if field[i] != 0 && field[i] != 0x20 { return nil }
            i += 1
        }
        return value
    }

    /// Parses a PAX decimal value like "123" (non-negative, at most `Int64.max`; leading zeros allowed).
    static func parseDecimal(_ bytes: ArraySlice<UInt8>) -> Int64? {
        guard !bytes.isEmpty else { return nil }
        var v: Int64 = 0
        for c in bytes {
            guard c >= 0x30 && c <= 0x39 else { return nil }
            let (times10, o1) = v.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(c - 0x30))
            if o1 || o2 { return nil }
            v = sum
        }
        return v
    }

    /// Parses a PAX time value "[-]sec[.frac]" into seconds and nanoseconds (digits past the ninth
    /// fractional one are dropped). The result lies in `Int64.min ... Int64.max` seconds; a value
    /// below that (`-9223372036854775808.5`) is malformed.
    static func parseTime(_ bytes: ArraySlice<UInt8>) -> (Int64, UInt32)? {
        var s = bytes[...]
        var negative = false
        if s.first == 0x2D { negative = true; s = s.dropFirst() }
        let dot = s.firstIndex(of: 0x2E)
        let secPart = dot.map { s[s.startIndex..<$0] } ?? s
        var nsec: Int64 = 0
        if let dot {
            let frac = s[(dot + 1)...]
            guard !frac.isEmpty, frac.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            var digits = 0
            for c in frac where digits < 9 {
                nsec = nsec * 10 + Int64(c - 0x30)
                digits += 1
            }
            while digits < 9 { nsec *= 10; digits += 1 }
        }
        if negative {
            // Int64.min has no positive counterpart: parse the magnitude as unsigned.
            guard !secPart.isEmpty, secPart.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            var magnitude: UInt64 = 0
            for c in secPart {
                let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(c - 0x30))
                if o1 || o2 { return nil }
                magnitude = sum
            }
            // -magnitude - (nsec > 0 ? 1 : 0) must still be >= Int64.min.
            let borrow: UInt64 = nsec > 0 ? 1 : 0
            let (total, o) = magnitude.addingReportingOverflow(borrow)
            guard !o, total <= UInt64(Int64.max) + 1 else { return nil }
            let sec = total == UInt64(Int64.max) + 1 ? Int64.min : -Int64(total)
            return (sec, nsec > 0 ? UInt32(1_000_000_000 - nsec) : 0)
        }
        guard let sec = parseDecimal(secPart) else { return nil }
        return (sec, UInt32(nsec))
    }
}
