#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A point in time with millisecond precision, written as RFC 3339 in UTC: `2026-01-27T10:30:05.123Z`.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public let unixMilliseconds: Int64

    /// The earliest time RFC 3339 can write: 0000-01-01T00:00:00.000Z.
    public static let earliest = Timestamp(uncheckedMilliseconds: -62_167_219_200_000)
    /// The latest time RFC 3339 can write: 9999-12-31T23:59:59.999Z.
    public static let latest = Timestamp(uncheckedMilliseconds: 253_402_300_799_999)

    /// Wraps a count of milliseconds since the Unix epoch, clamped to the years 0000 through 9999
    /// that RFC 3339 can write.
    public init(unixMilliseconds: Int64) {
        self.unixMilliseconds = min(max(unixMilliseconds, Self.earliest.unixMilliseconds), Self.latest.unixMilliseconds)
    }

    private init(uncheckedMilliseconds: Int64) {
        self.unixMilliseconds = uncheckedMilliseconds
    }

    /// The current time from the system's real-time clock.
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(unixMilliseconds: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }

    /// Parses an RFC 3339 date-time (`T` or space, any fraction, `Z` or `±hh:mm`), truncating to milliseconds.
    ///
    /// A leap second (`23:59:60`) is read as the last millisecond-aligned second before it, `23:59:59`.
    /// - Returns: `nil` when `string` is not an RFC 3339 date-time, or when its offset takes it
    ///   outside the years 0000 through 9999 in UTC.
    public init?(rfc3339 string: String) {
        var parser = DigitScanner(Array(string.utf8))
        guard let year = parser.digits(4), parser.skip("-"), let month = parser.digits(2), parser.skip("-"),
            let day = parser.digits(2), parser.skip(anyOf: "Tt "), let hour = parser.digits(2), parser.skip(":"),
            let minute = parser.digits(2), parser.skip(":"), let second = parser.digits(2)
        else { return nil }
        guard (1...12).contains(month), (1...Self.daysIn(month: month, year: year)).contains(day),
            hour < 24, minute < 60, second < 60 || (second == 60 && minute == 59)
        else { return nil }
        var milliseconds: Int64 = 0
        if parser.skip(".") {
            var count = 0
            while let digit = parser.digit() {
                if count < 3 { milliseconds = milliseconds * 10 + Int64(digit) }
                count += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<max(count, 3) { milliseconds *= 10 }
        }
        var offsetMinutes: Int64 = 0
        if !parser.skip(anyOf: "Zz") {
            let sign: Int64
            if parser.skip("+") { sign = 1 } else if parser.skip("-") { sign = -1 } else { return nil }
            guard let offsetHours = parser.digits(2), parser.skip(":"), let offsetMins = parser.digits(2),
                offsetHours < 24, offsetMins < 60
            else { return nil }
            offsetMinutes = sign * Int64(offsetHours * 60 + offsetMins)
        }
        guard parser.atEnd else { return nil }
        let days = Self.daysFromCivil(year: Int64(year), month: Int64(month), day: Int64(day))
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + min(second, 59)) - offsetMinutes * 60
        let total = seconds * 1000 + milliseconds
        guard total >= Self.earliest.unixMilliseconds, total <= Self.latest.unixMilliseconds else { return nil }
        self.init(uncheckedMilliseconds: total)
    }

    /// The RFC 3339 form in UTC with exactly three fraction digits.
    public var description: String {
        let totalSeconds = unixMilliseconds.floorDivided(by: 1000)
        let millisecond = Int(unixMilliseconds - totalSeconds * 1000)
        let days = totalSeconds.floorDivided(by: 86_400)
        let secondOfDay = Int(totalSeconds - days * 86_400)
        let (year, month, day) = Self.civilFromDays(days)
        var bytes = [UInt8]()
        bytes.reserveCapacity(24)
        func put(_ value: Int, width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        put(Int(year), width: 4)
        bytes.append(UInt8(ascii: "-"))
        put(Int(month), width: 2)
        bytes.append(UInt8(ascii: "-"))
        put(Int(day), width: 2)
        bytes.append(UInt8(ascii: "T"))
        put(secondOfDay / 3600, width: 2)
        bytes.append(UInt8(ascii: ":"))
        put(secondOfDay / 60 % 60, width: 2)
        bytes.append(UInt8(ascii: ":"))
        put(secondOfDay % 60, width: 2)
        bytes.append(UInt8(ascii: "."))
        put(millisecond, width: 3)
        bytes.append(UInt8(ascii: "Z"))
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.unixMilliseconds < rhs.unixMilliseconds
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = y.floorDivided(by: 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = z.floorDivided(by: 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}

private struct DigitScanner {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { index == bytes.count }

    mutating func digit() -> Int? {
        guard index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") else { return nil }
        defer { index += 1 }
        return Int(bytes[index] - UInt8(ascii: "0"))
    }

    mutating func digits(_ count: Int) -> Int? {
        var value = 0
        for _ in 0..<count {
            guard let digit = digit() else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    mutating func skip(_ character: Unicode.Scalar) -> Bool {
        guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
        index += 1
        return true
    }

    mutating func skip(anyOf characters: String) -> Bool {
        guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
        index += 1
        return true
    }
}
