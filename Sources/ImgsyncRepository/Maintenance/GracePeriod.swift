import Foundation

/// A duration written as a number and a unit: `0s`, `90s`, `30m`, `12h`, `2d`, `1w`.
public enum GracePeriod {
    /// Two days (docs/design.md §3.7).
    public static let defaultSeconds: TimeInterval = 2 * 86_400

    public static func parse(_ text: String) throws -> TimeInterval {
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800]
        let t = text.trimmingCharacters(in: .whitespaces)
        guard let unit = t.last, let factor = units[unit], let n = Double(t.dropLast()), n >= 0, n.isFinite else {
            throw ImgsyncError(.invalidArgument, "invalid duration \"\(text)\": write a non-negative number and a unit s, m, h, d or w (e.g. 30m, 2d)")
        }
        return n * factor
    }

    /// `2d`, `3h`, `45m`, `10s`: the largest unit that divides the duration exactly.
    public static func format(_ seconds: TimeInterval) -> String {
        for (unit, factor) in [("w", 604_800.0), ("d", 86_400.0), ("h", 3_600.0), ("m", 60.0)]
        where seconds >= factor && seconds.truncatingRemainder(dividingBy: factor) == 0 {
            return "\(Int(seconds / factor))\(unit)"
        }
        return seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
    }
}
