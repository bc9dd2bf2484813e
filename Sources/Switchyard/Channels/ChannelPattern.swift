/// A channel pattern in Redis glob syntax, matched exactly as Redis matches `PSUBSCRIBE` patterns.
///
/// `*` matches any run of bytes (`:` and `.` included), `?` one byte, `[abc]`, `[^a]` and `[a-z]`
/// one byte from a set, and a backslash makes the next byte literal. A pattern without any of
/// those is a plain channel name and matches only itself.
public struct ChannelPattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written.
    public let rawValue: String
    private let bytes: [UInt8]

    /// Wraps a glob pattern.
    /// - Throws: ``SwitchyardError`` with code ``SwitchyardError/Code/invalidChannel`` when the pattern is empty
    ///   or longer than ``ChannelName/maximumLength``.
    public init(_ rawValue: String) throws(SwitchyardError) {
        guard !rawValue.isEmpty, rawValue.utf8.count <= ChannelName.maximumLength else {
            throw SwitchyardError(.invalidChannel, "invalid channel pattern '\(rawValue.prefix(80))': it must have 1 to \(ChannelName.maximumLength) bytes")
        }
        self.rawValue = rawValue
        self.bytes = Array(rawValue.utf8)
    }

    /// Whether the pattern has any glob syntax; a pattern without it names one channel.
    public var isLiteral: Bool {
        !bytes.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "\\") }
    }

    /// The bytes before the first glob character: the part every matching channel starts with.
    public var literalPrefix: String {
        let end = bytes.firstIndex { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "\\") } ?? bytes.count
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    private static let punctuation = Set("_-:.*?[]^\\".utf8)

    /// Whether the pattern holds only the bytes of channel names (`A-Z a-z 0-9 _ - : .`) and of glob
    /// syntax (`* ? [ ] ^ \`): no space, quote, parenthesis or control byte, so it can stand inside a
    /// Redis ACL rule (`~stream:{PATTERN}`) without changing the rule.
    public var hasOnlyChannelAndGlobCharacters: Bool {
        bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                true
            default:
                Self.punctuation.contains(byte)
            }
        }
    }

    /// Whether some channel might match both this pattern and `other`: exact when either is a
    /// plain name (the name matches the other pattern); otherwise `false` only when their literal
    /// prefixes differ (neither starts with the other), so no channel can match both. A cheap test
    /// that spares a lookup of channels nobody may read.
    public func mayOverlap(_ other: ChannelPattern) -> Bool {
        if isLiteral { return other.matches(rawValue) }
        if other.isLiteral { return matches(other.rawValue) }
        let mine = literalPrefix.utf8, theirs = other.literalPrefix.utf8
        return mine.count <= theirs.count ? theirs.starts(with: mine) : mine.starts(with: theirs)
    }

    /// Whether `channel` matches the pattern.
    public func matches(_ channel: ChannelName) -> Bool {
        matches(channel.rawValue)
    }

    /// Whether `string` matches the pattern, with Redis's `stringmatchlen` semantics.
    public func matches(_ string: String) -> Bool {
        var string = string
        return string.withUTF8 { GlobMatcher.matches(pattern: bytes, string: $0) }
    }

    public var description: String { rawValue }
}

/// Redis's glob matcher (`stringmatchlen` in `util.c`), case-sensitive, over bytes.
///
/// Out-of-range reads return 0, as the terminating NUL does in the C original, so edge cases such
/// as an unterminated `[` or a trailing backslash behave exactly as on the server.
enum GlobMatcher {
    static func matches(pattern: [UInt8], string: UnsafeBufferPointer<UInt8>) -> Bool {
        var skipLongerMatches = false
        return match(pattern, 0, string, 0, &skipLongerMatches, nesting: 0)
    }

    private static func match(
        _ pattern: [UInt8], _ start: Int, _ string: UnsafeBufferPointer<UInt8>, _ stringStart: Int,
        _ skipLongerMatches: inout Bool, nesting: Int
    ) -> Bool {
        if nesting > 1000 { return false }
        @inline(__always) func p(_ index: Int) -> Int {
            index < pattern.count ? Int(Int8(bitPattern: pattern[index])) : 0
        }
        @inline(__always) func s(_ index: Int) -> Int {
            index < string.count ? Int(Int8(bitPattern: string[index])) : 0
        }
        var pi = start
        var patternLength = pattern.count - start
        var si = stringStart
        var stringLength = string.count - stringStart

        while patternLength > 0 && stringLength > 0 {
            switch p(pi) {
            case 42:  // '*'
                while patternLength > 0 && p(pi + 1) == 42 {
                    pi += 1
                    patternLength -= 1
                }
                if patternLength == 1 { return true }
                while stringLength > 0 {
                    if match(pattern, pi + 1, string, si, &skipLongerMatches, nesting: nesting + 1) { return true }
                    if skipLongerMatches { return false }
                    si += 1
                    stringLength -= 1
                }
                skipLongerMatches = true
                return false
            case 63:  // '?'
                si += 1
                stringLength -= 1
            case 91:  // '['
                pi += 1
                patternLength -= 1
                let negate = p(pi) == 94  // '^'
                if negate {
                    pi += 1
                    patternLength -= 1
                }
                var matched = false
                while true {
                    if p(pi) == 92 && patternLength >= 2 {  // '\\'
                        pi += 1
                        patternLength -= 1
                        if p(pi) == s(si) { matched = true }
                    } else if p(pi) == 93 {  // ']'
                        break
                    } else if patternLength == 0 {
                        pi -= 1
                        patternLength += 1
                        break
                    } else if patternLength >= 3 && p(pi + 1) == 45 {  // '-'
                        var low = p(pi)
                        var high = p(pi + 2)
                        if low > high { swap(&low, &high) }
                        pi += 2
                        patternLength -= 2
                        if s(si) >= low && s(si) <= high { matched = true }
                    } else if p(pi) == s(si) {
                        matched = true
                    }
                    pi += 1
                    patternLength -= 1
                }
                if negate { matched.toggle() }
                if !matched { return false }
                si += 1
                stringLength -= 1
            case 92:  // '\\'
                if patternLength >= 2 {
                    pi += 1
                    patternLength -= 1
                }
                if p(pi) != s(si) { return false }
                si += 1
                stringLength -= 1
            default:
                if p(pi) != s(si) { return false }
                si += 1
                stringLength -= 1
            }
            pi += 1
            patternLength -= 1
            if stringLength == 0 {
                while p(pi) == 42 {
                    pi += 1
                    patternLength -= 1
                }
                break
            }
        }
        return patternLength == 0 && stringLength == 0
    }
}
