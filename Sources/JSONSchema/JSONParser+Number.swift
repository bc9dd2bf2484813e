extension JSONParser {
    private static let exactPowersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    private func isDigit(at index: Int) -> Bool {
        index < bytes.count && bytes[index] &- UInt8(ascii: "0") < 10
    }

    /// Parses a number: `.int` when written without fraction or exponent and in range, else `.double`.
    mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = offset
        let negative = bytes[offset] == UInt8(ascii: "-")
        if negative { offset += 1 }
        guard isDigit(at: offset) else { throw failure(.invalidNumber) }
        var mantissa: UInt64 = 0
        var overflowed = false
        var exponent = 0
        if bytes[offset] == UInt8(ascii: "0") {
            offset += 1
            if isDigit(at: offset) { throw JSONParseError(.invalidNumber, offset: offset) }
        } else {
            while isDigit(at: offset) {
                accumulate(bytes[offset], into: &mantissa, overflowed: &overflowed)
                offset += 1
            }
        }
        var isInteger = true
        if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
            isInteger = false
            offset += 1
            guard isDigit(at: offset) else { throw failure(.invalidNumber) }
            while isDigit(at: offset) {
                accumulate(bytes[offset], into: &mantissa, overflowed: &overflowed)
                if !overflowed { exponent -= 1 }
                offset += 1
            }
        }
        if offset < bytes.count, bytes[offset] | 0x20 == UInt8(ascii: "e") {
            isInteger = false
            offset += 1
            var exponentNegative = false
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "-") || bytes[offset] == UInt8(ascii: "+") {
                exponentNegative = bytes[offset] == UInt8(ascii: "-")
                offset += 1
            }
            guard isDigit(at: offset) else { throw failure(.invalidNumber) }
            var written = 0
            while isDigit(at: offset) {
                written = min(written * 10 + Int(bytes[offset] - UInt8(ascii: "0")), 100_000)
                offset += 1
            }
            exponent += exponentNegative ? -written : written
        }
        if isInteger, !overflowed {
            if negative, mantissa <= UInt64(Int64.max) + 1 { return .int(Int64(truncatingIfNeeded: 0 &- mantissa)) }
            if !negative, mantissa <= UInt64(Int64.max) { return .int(Int64(mantissa)) }
        }
        let magnitude: Double
        if !overflowed, mantissa <= 1 << 53, exponent >= -22, exponent <= 22 {
            let scale = Self.exactPowersOfTen[abs(exponent)]
            magnitude = exponent < 0 ? Double(mantissa) / scale : Double(mantissa) * scale
        } else {
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
            guard let parsed = Double(text) else { throw JSONParseError(.invalidNumber, offset: start) }
            magnitude = parsed.magnitude
        }
        guard magnitude.isFinite else { throw JSONParseError(.numberOutOfRange, offset: start) }
        return .double(negative ? -magnitude : magnitude)
    }

    private func accumulate(_ digit: UInt8, into mantissa: inout UInt64, overflowed: inout Bool) {
        guard !overflowed else { return }
        let (times10, overflow1) = mantissa.multipliedReportingOverflow(by: 10)
        let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
        if overflow1 || overflow2 { overflowed = true } else { mantissa = sum }
    }
}
