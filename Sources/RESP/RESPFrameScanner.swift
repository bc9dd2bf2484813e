/// Finds where a RESP value ends without building it, and remembers how far it got, so that a value
/// arriving in many small reads is looked at about once instead of once per read.
///
/// It follows only the framing: type markers, line ends, blob lengths and aggregate counts. Anything
/// it does not understand (a bad marker, length or line end, a limit passed) ends the scan as
/// "complete", and ``RESPParser``, which checks everything, reports the error.
struct RESPFrameScanner {
    private enum Line {
        case value
        case blobLength(allowsNull: Bool)
        /// An aggregate's count: `perEntry` values per announced entry, plus `extra` (an attribute's value).
        case count(perEntry: Int, extra: Int, allowsNull: Bool)
    }

    private enum Step {
        case marker
        case line(Line, start: Int)
        case blob(end: Int)
    }

    private var position = 0
    private var step = Step.marker
    /// Values still due in each open aggregate, innermost last.
    private var open: [Int] = []
    /// The bytes before `position` when the last scan stopped (at most 16, and the first byte), to
    /// notice a buffer that is not the one scanned.
    private var witness: [UInt8] = []
    /// Bytes examined since the decoder was made, for tests of the decoder's work.
    private(set) var bytesExamined = 0

    /// Whether `bytes` start with one whole value (or with bytes that are not RESP); when not, the
    /// progress is kept for the next call with the same bytes and more.
    mutating func isComplete(_ bytes: UnsafeRawBufferPointer, limits: RESPValueDecoder.Limits) -> Bool {
        if !witness.isEmpty, !matchesWitness(bytes) { restart() }
        if scan(bytes, limits: limits) {
            restart()
            return true
        }
        witness = bytes.isEmpty ? [] : [bytes[0]] + Array(bytes[max(0, position - 16)..<position])
        return false
    }

    /// Whether no scan is under way: nothing has been kept from an incomplete value.
    var isFresh: Bool { position == 0 && witness.isEmpty }

    private mutating func restart() {
        position = 0
        step = .marker
        open.removeAll(keepingCapacity: true)
        witness = []
    }

    private func matchesWitness(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard position <= bytes.count, position >= witness.count - 1, bytes.first == witness[0] else { return false }
        return bytes[(position - (witness.count - 1))..<position].elementsEqual(witness.dropFirst())
    }

    private mutating func scan(_ bytes: UnsafeRawBufferPointer, limits: RESPValueDecoder.Limits) -> Bool {
        while true {
            switch step {
            case .marker:
                guard position < bytes.count else { return false }
                let marker = bytes[position]
                position += 1
                bytesExamined += 1
                let line: Line
                switch marker {
                case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: ","), UInt8(ascii: "("), UInt8(ascii: "#"),
                    UInt8(ascii: "_"):
                    line = .value
                case UInt8(ascii: "$"): line = .blobLength(allowsNull: true)
                case UInt8(ascii: "!"), UInt8(ascii: "="): line = .blobLength(allowsNull: false)
                case UInt8(ascii: "*"): line = .count(perEntry: 1, extra: 0, allowsNull: true)
                case UInt8(ascii: "~"), UInt8(ascii: ">"): line = .count(perEntry: 1, extra: 0, allowsNull: false)
                case UInt8(ascii: "%"): line = .count(perEntry: 2, extra: 0, allowsNull: false)
                case UInt8(ascii: "|"): line = .count(perEntry: 2, extra: 1, allowsNull: false)
                default: return true
                }
                step = .line(line, start: position)
            case .line(let line, let start):
                var index = position
                while index < bytes.count, bytes[index] != UInt8(ascii: "\r") { index += 1 }
                bytesExamined += index - position
                guard index + 1 < bytes.count else {
                    position = index
                    return index - start > limits.maximumLineLength
                }
                guard bytes[index + 1] == UInt8(ascii: "\n"), index - start <= limits.maximumLineLength else { return true }
                position = index + 2
                bytesExamined += 2
                switch line {
                case .value:
                    if finishValue() { return true }
                case .blobLength(let allowsNull):
                    guard let length = Self.integer(bytes[start..<index]) else { return true }
                    if length == -1, allowsNull {
                        if finishValue() { return true }
                    } else {
                        guard length >= 0, length <= limits.maximumBlobLength else { return true }
                        step = .blob(end: position + length + 2)
                    }
                case .count(let perEntry, let extra, let allowsNull):
                    guard let count = Self.integer(bytes[start..<index]) else { return true }
                    if count == -1, allowsNull {
                        if finishValue() { return true }
                        continue
                    }
                    guard count >= 0, count <= limits.maximumAggregateCount, open.count < limits.maximumDepth else { return true }
                    let due = count * perEntry + extra
                    if due == 0 {
                        if finishValue() { return true }
                    } else {
                        open.append(due)
                        step = .marker
                    }
                }
            case .blob(let end):
                guard bytes.count >= end else { return false }
                position = end
                if finishValue() { return true }
            }
        }
    }

    /// Counts a value as read; `true` when it ends the outermost one.
    private mutating func finishValue() -> Bool {
        step = .marker
        while let last = open.indices.last {
            open[last] -= 1
            if open[last] > 0 { return false }
            open.removeLast()
        }
        return true
    }

    /// A length or count line: an optional sign and up to 19 digits; `nil` for anything else.
    private static func integer(_ bytes: Slice<UnsafeRawBufferPointer>) -> Int? {
        var digits = bytes[...]
        var negative = false
        if let first = digits.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var value = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return negative ? -value : value
    }
}
