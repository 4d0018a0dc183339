/// ISO-8601 date strings as metadata filters compare them, computed exactly as SQLite's `julianday()`
/// (date.c, 3.40) does, so that `$gt`/`$lt` on dates give the same answer in Swift and in SQL.
///
/// Accepted: `YYYY-MM-DD`, optionally `THH:MM`, `:SS`, `.F` (1 to 3 digits) and a zone `Z` or `±HH:MM`
/// (no zone: UTC). SQLite's ranges: month 1-12, day 1-31 (Feb 31 rolls over as in SQLite), hour 0-24,
/// minute and second 0-59, zone hours 0-14. `sqlGlobPatterns` is the same grammar for SQL, which keeps
/// SQLite from accepting its other forms (`now`, bare numbers, times without a date).
enum SQLiteDate {
    /// Milliseconds of the Julian day (SQLite's `iJD`), or nil when `text` is not an accepted date.
    static func julianMilliseconds(_ text: String) -> Int64? {
        var s = Scanner(bytes: Array(text.utf8))
        guard let year = s.digits(4), s.take("-"), let month = s.digits(2), s.take("-"), let day = s.digits(2),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        var hour = 0, minute = 0, zoneMinutes = 0
        var seconds = 0.0
        var hasTime = false
        if s.take("T") {
            hasTime = true
            guard let h = s.digits(2), s.take(":"), let m = s.digits(2), h <= 24, m <= 59 else { return nil }
            hour = h
            minute = m
            if s.take(":") {
                guard let sec = s.digits(2), sec <= 59 else { return nil }
                var fraction = 0.0
                if s.take(".") {
                    // SQLite's own arithmetic: accumulate the digits, then divide by the scale.
                    var scale = 1.0
                    var count = 0
                    while let d = s.digit() { fraction = fraction * 10.0 + Double(d); scale *= 10.0; count += 1 }
                    guard (1...3).contains(count) else { return nil }
                    fraction /= scale
                }
                seconds = Double(sec) + fraction
            }
            if s.take("Z") {
            } else if let sign = s.sign() {
                guard let zh = s.digits(2), s.take(":"), let zm = s.digits(2), zh <= 14, zm <= 59 else { return nil }
                zoneMinutes = sign * (zm + zh * 60)
            }
        }
        guard s.atEnd else { return nil }
        var y = year, m = month
        if m <= 2 { y -= 1; m += 12 }
        let a = y / 100
        let b = 2 - a + a / 4
        let x1 = 36525 * (y + 4716) / 100
        let x2 = 306001 * (m + 1) / 10000
        var jd = Int64((Double(x1 + x2 + day + b) - 1524.5) * 86_400_000)
        if hasTime {
            jd += Int64(hour) * 3_600_000 + Int64(minute) * 60_000 + Int64(seconds * 1000.0 + 0.5)
            jd -= Int64(zoneMinutes) * 60_000
        }
        // SQLite's validJulianDay: 0000-01-01 is fine, past 9999-12-31 23:59:59.999 is NULL.
        guard jd >= 0, jd <= 464_269_060_799_999 else { return nil }
        return jd
    }

    /// GLOB patterns for exactly the grammar above (SQL keeps a value only when one matches).
    static let sqlGlobPatterns: [String] = {
        let date = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
        let hm = "T[0-9][0-9]:[0-9][0-9]"
        let zones = ["", "Z", "[+-][0-9][0-9]:[0-9][0-9]"]
        let fractions = ["", ".[0-9]", ".[0-9][0-9]", ".[0-9][0-9][0-9]"]
        var patterns = [date]
        for z in zones { patterns.append(date + hm + z) }
        for f in fractions { for z in zones { patterns.append(date + hm + ":[0-9][0-9]" + f + z) } }
        return patterns
    }()

    private struct Scanner {
        let bytes: [UInt8]
        var position = 0
        var atEnd: Bool { position == bytes.count }
        mutating func take(_ c: Character) -> Bool {
            guard position < bytes.count, bytes[position] == c.asciiValue! else { return false }
            position += 1
            return true
        }
        mutating func digit() -> Int? {
            guard position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 else { return nil }
            position += 1
            return Int(bytes[position - 1] - 0x30)
        }
        mutating func digits(_ n: Int) -> Int? {
            var v = 0
            for _ in 0..<n {
                guard let d = digit() else { return nil }
                v = v * 10 + d
            }
            return v
        }
        mutating func sign() -> Int? {
            if take("+") { return 1 }
            if take("-") { return -1 }
            return nil
        }
    }
}
