/// Numeric header fields: octal text (NUL/space padded) or GNU base-256 (high bit set).
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
                // Overflow check: more than 63 significant bits cannot be represented.
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
        var sawDigit = false
        while i < n {
            let c = field[i]
            if c >= 0x30 && c <= 0x37 {
                if value > (Int64.max >> 3) { return nil }
                value = value << 3 | Int64(c - 0x30)
                sawDigit = true
                i += 1
            } else {
                break
            }
        }
        // The rest must be terminators.
        while i < n {
            if field[i] != 0 && field[i] != 0x20 { return nil }
            i += 1
        }
        _ = sawDigit
        return value
    }

    /// Parses a PAX decimal value like "123" (non-negative integer).
    static func parseDecimal(_ bytes: ArraySlice<UInt8>) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 19 else { return nil }
        var v: Int64 = 0
        for c in bytes {
            guard c >= 0x30 && c <= 0x39 else { return nil }
            v = v * 10 + Int64(c - 0x30)
        }
        return v
    }

    /// Parses a PAX time value "[-]sec[.frac]" into seconds and nanoseconds.
    static func parseTime(_ bytes: ArraySlice<UInt8>) -> (Int64, UInt32)? {
        var s = bytes[...]
        var negative = false
        if s.first == 0x2D { negative = true; s = s.dropFirst() }
        let dot = s.firstIndex(of: 0x2E)
        let secPart = dot.map { s[s.startIndex..<$0] } ?? s
        guard let sec = parseDecimal(secPart) else { return nil }
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
            if nsec > 0 { return (-sec - 1, UInt32(1_000_000_000 - nsec)) }
            return (-sec, 0)
        }
        return (sec, UInt32(nsec))
    }
}
