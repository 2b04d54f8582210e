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
}
