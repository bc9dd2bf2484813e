/// A matcher for the common subset of ECMA-262 patterns: an optional `^`, a sequence of single-character
/// atoms (literals, `.`, classes, `\d \w \s` and their negations) each with an optional greedy quantifier,
/// and groups of such atoms (`(…)` or `(?:…)`, without alternation), each once or optional (`(…)?`, as in
/// the decimal `^-?[0-9]+(\.[0-9]+)?$`), and an optional `$`. It implements ECMA-262 semantics exactly
/// for that subset and avoids the cost of bridging to `NSRegularExpression`; patterns outside the subset
/// return `nil` from ``init(_:)``.
struct SimplePattern: Sendable {
    /// A set of Unicode scalars, as sorted ranges with a bitmap for ASCII.
    struct ScalarSet: Sendable {
        var ascii: (UInt64, UInt64) = (0, 0)
        var ranges: [ClosedRange<UInt32>] = []
        var negated = false

        mutating func insert(_ range: ClosedRange<UInt32>) {
            ranges.append(range)
            guard range.lowerBound < 128 else { return }
            for scalar in range.lowerBound...min(range.upperBound, 127) {
                if scalar < 64 { ascii.0 |= 1 << UInt64(scalar) } else { ascii.1 |= 1 << UInt64(scalar - 64) }
            }
        }

        func contains(_ scalar: UInt32) -> Bool {
            let found: Bool
            if scalar < 64 {
                found = ascii.0 & (1 << UInt64(scalar)) != 0
            } else if scalar < 128 {
                found = ascii.1 & (1 << UInt64(scalar - 64)) != 0
            } else {
                found = ranges.contains { $0.contains(scalar) }
            }
            return found != negated
        }

        static let digits: [ClosedRange<UInt32>] = [0x30...0x39]
        static let wordCharacters: [ClosedRange<UInt32>] = [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A]
        static let whitespace: [ClosedRange<UInt32>] = [
            0x09...0x0D, 0x20...0x20, 0xA0...0xA0, 0x1680...0x1680, 0x2000...0x200A,
            0x2028...0x2029, 0x202F...0x202F, 0x205F...0x205F, 0x3000...0x3000, 0xFEFF...0xFEFF,
        ]
        static let lineTerminators: [ClosedRange<UInt32>] = [0x0A...0x0A, 0x0D...0x0D, 0x2028...0x2029]

        init(_ ranges: [ClosedRange<UInt32>] = [], negated: Bool = false) {
            self.negated = negated
            for range in ranges { insert(range) }
        }
    }

    struct Atom: Sendable {
        var set: ScalarSet
        var min: Int
        var max: Int
    }

    /// An atom, or a group of atoms matched once or, when `optional`, once or not at all. (ECMA-262
    /// refuses an optional group's iteration that matches nothing and then skips the group, which
    /// leaves the same position: for whether a pattern matches, trying the group and skipping it is
    /// the same.)
    enum Node: Sendable {
        case atom(Atom)
        case group([Node], optional: Bool)
    }

    private let nodes: [Node]
    private let anchoredStart: Bool
    private let anchoredEnd: Bool

    /// Parses `pattern`, or returns `nil` when it uses anything outside the supported subset.
    init?(_ pattern: String) {
        var scalars = Array(pattern.unicodeScalars)[...]
        anchoredStart = scalars.first == "^"
        if anchoredStart { scalars.removeFirst() }
        if scalars.last == "$", scalars.dropLast().last == "\\" { return nil }
        anchoredEnd = scalars.last == "$"
        if anchoredEnd { scalars.removeLast() }
        guard let nodes = Self.parseSequence(&scalars, inGroup: false) else { return nil }
        self.nodes = nodes
    }

    /// Parses atoms (and, at the top level, groups of atoms) up to the end, or in a group up to its `)`.
    private static func parseSequence(_ scalars: inout ArraySlice<Unicode.Scalar>, inGroup: Bool) -> [Node]? {
        var nodes: [Node] = []
        while let scalar = scalars.popFirst() {
            if scalar == ")" {
                return inGroup ? nodes : nil
            }
            if scalar == "(" {
                guard !inGroup else { return nil }
                if scalars.first == "?" {
                    guard scalars.dropFirst().first == ":" else { return nil }
                    scalars.removeFirst(2)
                }
                guard let inner = parseSequence(&scalars, inGroup: true) else { return nil }
                var optional = false
                if scalars.first == "?" {
                    optional = true
                    scalars.removeFirst()
                }
                guard !Self.startsWithQuantifier(scalars) else { return nil }
                nodes.append(.group(inner, optional: optional))
                continue
            }
            let set: ScalarSet
            switch scalar {
            case "\\":
                guard let escaped = scalars.popFirst(), let escapedSet = Self.escapeSet(escaped) else { return nil }
                set = escapedSet
            case "[":
                guard let classSet = Self.parseClass(&scalars) else { return nil }
                set = classSet
            case ".":
                set = ScalarSet(ScalarSet.lineTerminators, negated: true)
            case "^", "$", "|", "*", "+", "?", "{", "}", "]":
                return nil
            default:
                set = ScalarSet([scalar.value...scalar.value])
            }
            var atom = Atom(set: set, min: 1, max: 1)
            if let quantifier = scalars.first {
                switch quantifier {
                case "*": (atom.min, atom.max) = (0, .max); scalars.removeFirst()
                case "+": (atom.min, atom.max) = (1, .max); scalars.removeFirst()
                case "?": (atom.min, atom.max) = (0, 1); scalars.removeFirst()
                case "{":
                    guard let bounds = Self.parseBraces(&scalars) else { return nil }
                    (atom.min, atom.max) = bounds
                default: break
                }
                guard !Self.startsWithQuantifier(scalars) else { return nil }
            }
            nodes.append(.atom(atom))
        }
        return inGroup ? nil : nodes
    }

    /// Whether a quantifier comes next: after a quantified atom, or a group's `?`, one is a lazy or
    /// repeated quantifier, outside the subset.
    private static func startsWithQuantifier(_ scalars: ArraySlice<Unicode.Scalar>) -> Bool {
        scalars.first == "?" || scalars.first == "*" || scalars.first == "+" || scalars.first == "{"
    }

    private static func escapeSet(_ escaped: Unicode.Scalar) -> ScalarSet? {
        switch escaped {
        case "d": ScalarSet(ScalarSet.digits)
        case "D": ScalarSet(ScalarSet.digits, negated: true)
        case "w": ScalarSet(ScalarSet.wordCharacters)
        case "W": ScalarSet(ScalarSet.wordCharacters, negated: true)
        case "s": ScalarSet(ScalarSet.whitespace)
        case "S": ScalarSet(ScalarSet.whitespace, negated: true)
        default: escapedScalar(escaped).map { ScalarSet([$0...$0]) }
        }
    }

    private static func escapedScalar(_ escaped: Unicode.Scalar) -> UInt32? {
        switch escaped {
        case "t": 0x09
        case "n": 0x0A
        case "v": 0x0B
        case "f": 0x0C
        case "r": 0x0D
        case "^", "$", "\\", ".", "*", "+", "?", "(", ")", "[", "]", "{", "}", "|", "/", "-": escaped.value
        default: nil
        }
    }

    private static func parseClass(_ scalars: inout ArraySlice<Unicode.Scalar>) -> ScalarSet? {
        var set = ScalarSet()
        if scalars.first == "^" {
            set.negated = true
            scalars.removeFirst()
        }
        guard scalars.first != "]" else { return nil }
        while let scalar = scalars.popFirst() {
            if scalar == "]" { return set }
            var lower = scalar.value
            if scalar == "\\" {
                guard let escaped = scalars.popFirst() else { return nil }
                switch escaped {
                case "d": for range in ScalarSet.digits { set.insert(range) }; continue
                case "w": for range in ScalarSet.wordCharacters { set.insert(range) }; continue
                case "s": for range in ScalarSet.whitespace { set.insert(range) }; continue
                default:
                    guard let value = escapedScalar(escaped) else { return nil }
                    lower = value
                }
            } else if scalar == "[" {
                return nil
            }
            if scalars.first == "-", let upper = scalars.dropFirst().first, upper != "]" {
                guard upper != "\\", upper != "[", upper.value >= lower else { return nil }
                scalars.removeFirst(2)
                set.insert(lower...upper.value)
            } else {
                set.insert(lower...lower)
            }
        }
        return nil
    }

    private static func parseBraces(_ scalars: inout ArraySlice<Unicode.Scalar>) -> (Int, Int)? {
        guard let close = scalars.firstIndex(of: "}") else { return nil }
        let body = String(String.UnicodeScalarView(scalars[scalars.index(after: scalars.startIndex)..<close]))
        let parts = body.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)
        guard let lower = Int(parts[0]) else { return nil }
        var upper = lower
        if parts.count == 2 {
            if parts[1].isEmpty { upper = .max } else { guard let value = Int(parts[1]) else { return nil }; upper = value }
        }
        guard lower <= upper else { return nil }
        scalars = scalars[scalars.index(after: close)...]
        return (lower, upper)
    }

    /// Whether the pattern matches somewhere in `text` (anywhere unless anchored, as ECMA-262 `test`).
    func matches(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            let accept = { (position: Int) in !anchoredEnd || position == bytes.count }
            if anchoredStart { return match(nodes[...], at: 0, in: bytes, then: accept) }
            var start = 0
            while true {
                if match(nodes[...], at: start, in: bytes, then: accept) { return true }
                guard start < bytes.count else { return false }
                start += Self.sequenceLength(bytes[start])
            }
        }
    }

    private static func sequenceLength(_ lead: UInt8) -> Int {
        lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
    }

    /// Whether `nodes` match from `position` on with `accept` taking where they end; backtracks.
    private func match(
        _ nodes: ArraySlice<Node>, at position: Int, in bytes: UnsafeBufferPointer<UInt8>, then accept: (Int) -> Bool
    ) -> Bool {
        guard let first = nodes.first else { return accept(position) }
        let rest = nodes.dropFirst()
        switch first {
        case .atom(let atom):
            return match(atom, at: position, in: bytes) { match(rest, at: $0, in: bytes, then: accept) }
        case .group(let inner, let optional):
            if match(inner[...], at: position, in: bytes, then: { match(rest, at: $0, in: bytes, then: accept) }) { return true }
            return optional && match(rest, at: position, in: bytes, then: accept)
        }
    }

    /// Takes as many repetitions of `atom` as it can, then gives them back one at a time until
    /// `next` accepts where they end.
    private func match(_ atom: Atom, at position: Int, in bytes: UnsafeBufferPointer<UInt8>, then next: (Int) -> Bool) -> Bool {
        var position = position
        var count = 0
        while count < atom.max, position < bytes.count {
            let lead = bytes[position]
            let length = Self.sequenceLength(lead)
            var scalar = UInt32(lead)
            if length > 1 {
                scalar &= length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07
                for offset in 1..<length { scalar = scalar << 6 | UInt32(bytes[position + offset] & 0x3F) }
            }
            guard atom.set.contains(scalar) else { break }
            position += length
            count += 1
        }
        while count >= atom.min {
            if next(position) { return true }
            guard count > atom.min else { return false }
            repeat { position -= 1 } while bytes[position] & 0xC0 == 0x80
            count -= 1
        }
        return false
    }
}
