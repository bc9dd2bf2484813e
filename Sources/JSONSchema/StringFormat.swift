/// A `format` value that this validator asserts, with its check.
final class StringFormat: Sendable {
    let name: String
    private let check: @Sendable (String) -> Bool

    private init(_ name: String, _ check: @escaping @Sendable (String) -> Bool) {
        self.name = name
        self.check = check
    }

    func accepts(_ string: String) -> Bool { check(string) }

    /// The format called `name`, or `nil` for formats that are not asserted (they always pass).
    static func named(_ name: String) -> StringFormat? {
        switch name {
        case "date-time": StringFormat(name) { withBytes($0, DateTimeSyntax.isDateTime) }
        case "date": StringFormat(name) { withBytes($0, DateTimeSyntax.isDate) }
        case "time": StringFormat(name) { withBytes($0, DateTimeSyntax.isTime) }
        case "email": StringFormat(name) { NetworkSyntax.isEmail($0, international: false) }
        case "idn-email": StringFormat(name) { NetworkSyntax.isEmail($0, international: true) }
        case "hostname": StringFormat(name) { NetworkSyntax.isHostname(Substring($0)) }
        case "idn-hostname": StringFormat(name, NetworkSyntax.isInternationalHostname)
        case "ipv4": StringFormat(name) { NetworkSyntax.isIPv4(Substring($0)) }
        case "ipv6": StringFormat(name) { NetworkSyntax.isIPv6(Substring($0)) }
        case "uri": StringFormat(name) { URISyntax.isValid($0, requireScheme: true, international: false) }
        case "uri-reference": StringFormat(name) { URISyntax.isValid($0, requireScheme: false, international: false) }
        case "iri": StringFormat(name) { URISyntax.isValid($0, requireScheme: true, international: true) }
        case "iri-reference": StringFormat(name) { URISyntax.isValid($0, requireScheme: false, international: true) }
        case "uri-template": StringFormat(name, URISyntax.isTemplate)
        case "uuid": StringFormat(name) { withBytes($0, isUUID) }
        case "regex": StringFormat(name) { RegexPattern($0) != nil }
        case "json-pointer": StringFormat(name, isJSONPointer)
        case "relative-json-pointer": StringFormat(name, isRelativeJSONPointer)
        default: nil
        }
    }

    private static func withBytes(_ string: String, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        var string = string
        return string.withUTF8(body)
    }

    private static func isUUID(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == 36 else { return false }
        for (index, byte) in bytes.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard byte.isHexDigit else { return false }
            }
        }
        return true
    }

    private static func isJSONPointer(_ string: String) -> Bool {
        guard string.isEmpty || string.hasPrefix("/") else { return false }
        var utf8 = string.utf8.makeIterator()
        while let byte = utf8.next() {
            guard byte == UInt8(ascii: "~") else { continue }
            guard let next = utf8.next(), next == UInt8(ascii: "0") || next == UInt8(ascii: "1") else { return false }
        }
        return true
    }

    private static func isRelativeJSONPointer(_ string: String) -> Bool {
        let digits = string.utf8.prefix { $0.isDigit }
        guard !digits.isEmpty, digits.count == 1 || digits.first != UInt8(ascii: "0") else { return false }
        let rest = String(string.utf8.dropFirst(digits.count))!
        return rest == "#" || isJSONPointer(rest)
    }
}

extension UInt8 {
    var isDigit: Bool { self &- UInt8(ascii: "0") < 10 }
    var isHexDigit: Bool { isDigit || (self | 0x20) &- UInt8(ascii: "a") < 6 }
    var isASCIILetter: Bool { (self | 0x20) &- UInt8(ascii: "a") < 26 }
}

/// RFC 3339 dates and times as JSON Schema's `date-time`, `date` and `time` formats define them.
enum DateTimeSyntax {
    static func isDateTime(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count > 11, bytes[10] | 0x20 == UInt8(ascii: "t") else { return false }
        return isDate(UnsafeBufferPointer(rebasing: bytes[..<10]))
            && isTime(UnsafeBufferPointer(rebasing: bytes[11...]))
    }

    static func isDate(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            let year = number(bytes, 0, 4), let month = number(bytes, 5, 2), let day = number(bytes, 8, 2),
            (1...12).contains(month), day >= 1
        else { return false }
        let isLeap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, isLeap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return day <= days
    }

    static func isTime(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count >= 9, bytes[2] == UInt8(ascii: ":"), bytes[5] == UInt8(ascii: ":"),
            let hour = number(bytes, 0, 2), let minute = number(bytes, 3, 2), let second = number(bytes, 6, 2),
            hour <= 23, minute <= 59, second <= 60
        else { return false }
        var index = 8
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < bytes.count, bytes[index].isDigit { index += 1 }
            guard index > start, index < bytes.count else { return false }
        }
        var offsetMinutes = 0
        if bytes[index] | 0x20 == UInt8(ascii: "z") {
            guard index + 1 == bytes.count else { return false }
        } else {
            guard index + 6 == bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-"),
                bytes[index + 3] == UInt8(ascii: ":"),
                let offsetHour = number(bytes, index + 1, 2), let offsetMinute = number(bytes, index + 4, 2),
                offsetHour <= 23, offsetMinute <= 59
            else { return false }
            offsetMinutes = (offsetHour * 60 + offsetMinute) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
        }
        guard second == 60 else { return true }
        let utcMinutes = ((hour * 60 + minute - offsetMinutes) % 1440 + 1440) % 1440
        return utcMinutes == 23 * 60 + 59
    }

    private static func number(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ count: Int) -> Int? {
        var value = 0
        for index in start..<(start + count) {
            guard bytes[index].isDigit else { return nil }
            value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
        }
        return value
    }
}
