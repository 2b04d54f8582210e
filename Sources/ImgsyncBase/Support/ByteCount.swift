import Foundation

/// Byte counts for people: binary units (KiB, MiB, …) everywhere imgsync prints sizes, like `du -h`
/// and `ls -lh`, one decimal; exact below 1 KiB.
public enum ByteCount {
    public static func format(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = Double(n)
        var i = 0
        // 1023.95 and up would print as "1024.0": take the next unit instead.
        while abs(v) >= 1023.95 && i < units.count - 1 {
            v /= 1024
            i += 1
        }
        return i == 0 ? "\(n) B" : String(format: "%.1f", v) + " " + units[i]
    }

    /// Parses a count as options take it: digits with an optional binary unit, `k`/`K`/`KiB`,
    /// `M`/`MiB`, `G`/`GiB`, `T`/`TiB` (so `20k` is 20,480). Throws `.invalidArgument`.
    public static func parse(_ text: String) throws -> Int64 {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unit = text.dropFirst(digits.count).lowercased()
        let shifts: [String: Int64] = ["": 0, "b": 0, "k": 10, "kib": 10, "m": 20, "mib": 20, "g": 30, "gib": 30, "t": 40, "tib": 40]
        guard !digits.isEmpty, let value = Int64(digits), let shift = shifts[unit] else {
            throw ImgsyncError(.invalidArgument, "invalid byte count \(text.debugDescription): expected digits and an optional unit (k, M, G, T), e.g. 20k")
        }
        let (result, overflow) = value.multipliedReportingOverflow(by: Int64(1) << shift)
        guard !overflow else { throw ImgsyncError(.invalidArgument, "byte count \(text) is too large") }
        return result
    }
}
