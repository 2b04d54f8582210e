/// Time handling for the generated files. imgsync never uses the clock here: the build time is
/// the image config's `created`, so two builds of one image give identical bytes.
enum SandboxTime {
    /// Seconds since the epoch of an RFC 3339 date-time (`2024-05-01T12:00:00.5+02:00`), or nil
    /// when `text` is not one. Fractions of a second are dropped.
    static func parseRFC3339(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= b.count else { return nil }
            var v: Int64 = 0
            for c in b[from..<(from + count)] {
                guard (0x30...0x39).contains(c) else { return nil }
                v = v * 10 + Int64(c - 0x30)
            }
            return v
        }
        guard b.count >= 20, b[4] == 0x2D, b[7] == 0x2D, [0x54, 0x74, 0x20].contains(b[10]), b[13] == 0x3A, b[16] == 0x3A,
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60 else {
            return nil
        }
        var i = 19
        if b[i] == 0x2E {
            i += 1
            let start = i
            while i < b.count && (0x30...0x39).contains(b[i]) { i += 1 }
            guard i > start, i < b.count else { return nil }
        }
        var offset: Int64 = 0
        switch b[i] {
        case 0x5A, 0x7A:  // Z
            guard i + 1 == b.count else { return nil }
        case 0x2B, 0x2D:  // + or -
            guard i + 6 == b.count, b[i + 3] == 0x3A, let oh = number(i + 1, 2), let om = number(i + 4, 2), oh < 24, om < 60 else {
                return nil
            }
            offset = (oh * 60 + om) * 60 * (b[i] == 0x2D ? -1 : 1)
        default:
            return nil
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        return days * 86_400 + hour * 3600 + minute * 60 + second - offset
    }

    /// Apptainer's `org.label-schema.build-date` form, in UTC and without zero padding:
    /// `Thursday_1_January_1970_0:0:0_UTC`.
    static func buildDateLabel(_ seconds: Int64) -> String {
        let days = floorDiv(seconds, 86_400)
        let rest = seconds - days * 86_400
        let (year, month, day) = civilFromDays(days)
        let weekday = Int((days % 7 + 7 + 4) % 7)  // 1970-01-01 was a Thursday
        let weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
        let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                      "October", "November", "December"]
        return "\(weekdays[weekday])_\(day)_\(months[Int(month) - 1])_\(year)_\(rest / 3600):\(rest % 3600 / 60):\(rest % 60)_UTC"
    }

    // Proleptic Gregorian calendar <-> days since 1970-01-01 (era arithmetic on 400-year cycles).

    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yearOfEra = y - era * 400
        let shiftedMonth = (month + 9) % 12  // March = 0
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
