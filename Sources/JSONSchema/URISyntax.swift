/// RFC 3986 URIs and URI references, RFC 3987 IRIs, and RFC 6570 URI templates.
enum URISyntax {
    private static let unreserved = Set("-._~".unicodeScalars)
    private static let subDelimiters = Set("!$&'()*+,;=".unicodeScalars)

    private static func isAllowed(
        _ scalars: Substring.UnicodeScalarView, extra: Set<Unicode.Scalar>, international: Bool
    ) -> Bool {
        var iterator = scalars.makeIterator()
        while let scalar = iterator.next() {
            if scalar == "%" {
                guard let high = iterator.next(), let low = iterator.next(),
                    high.isASCII, UInt8(high.value).isHexDigit, low.isASCII, UInt8(low.value).isHexDigit
                else { return false }
                continue
            }
            if scalar.value >= 0xA0 {
                guard international else { return false }
                continue
            }
            guard scalar.isASCII else { return false }
            let byte = UInt8(scalar.value)
            guard byte.isASCIILetter || byte.isDigit || unreserved.contains(scalar) || subDelimiters.contains(scalar)
                || extra.contains(scalar)
            else { return false }
        }
        return true
    }

    private static let pathExtra = Set(":@/".unicodeScalars)
    private static let queryExtra = Set(":@/?".unicodeScalars)
    private static let userExtra = Set(":".unicodeScalars)

    /// Whether `text` is a URI (`requireScheme`) or URI reference; `international` admits IRI characters.
    static func isValid(_ text: String, requireScheme: Bool, international: Bool) -> Bool {
        var rest = Substring(text)
        if let hash = rest.firstIndex(of: "#") {
            guard isAllowed(rest[rest.index(after: hash)...].unicodeScalars, extra: queryExtra, international: international)
            else { return false }
            rest = rest[..<hash]
        }
        if let question = rest.firstIndex(of: "?") {
            guard isAllowed(rest[rest.index(after: question)...].unicodeScalars, extra: queryExtra, international: international)
            else { return false }
            rest = rest[..<question]
        }
        if let colon = rest.firstIndex(of: ":"), !rest[..<colon].contains("/") {
            let scheme = rest[..<colon].utf8
            guard let first = scheme.first, first.isASCIILetter,
                scheme.allSatisfy({ $0.isASCIILetter || $0.isDigit || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
            else { return false }
            rest = rest[rest.index(after: colon)...]
        } else if requireScheme {
            return false
        }
        if rest.hasPrefix("//") {
            rest = rest.dropFirst(2)
            let end = rest.firstIndex(of: "/") ?? rest.endIndex
            guard isAuthority(rest[..<end], international: international) else { return false }
            rest = rest[end...]
        }
        return isAllowed(rest.unicodeScalars, extra: pathExtra, international: international)
    }

    private static func isAuthority(_ authority: Substring, international: Bool) -> Bool {
        var host = authority
        let ats = authority.filter { $0 == "@" }.count
        guard ats <= 1 else { return false }
        if let at = authority.firstIndex(of: "@") {
            guard isAllowed(authority[..<at].unicodeScalars, extra: userExtra, international: international)
            else { return false }
            host = authority[authority.index(after: at)...]
        }
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let literal = host[host.index(after: host.startIndex)..<close]
            guard NetworkSyntax.isIPv6(literal) || isIPvFuture(literal) else { return false }
            host = host[host.index(after: close)...]
            guard host.isEmpty || host.hasPrefix(":") else { return false }
        } else if let colon = host.lastIndex(of: ":") {
            guard isAllowed(host[..<colon].unicodeScalars, extra: [], international: international) else { return false }
            host = host[colon...]
        } else {
            return isAllowed(host.unicodeScalars, extra: [], international: international)
        }
        return host.isEmpty || host.dropFirst().utf8.allSatisfy(\.isDigit)
    }

    private static let templateOperators = Set("+#./;?&".unicodeScalars)
    private static let excludedLiterals = Set(" \"<>\\^`|".unicodeScalars)

    private static func isIPvFuture(_ literal: Substring) -> Bool {
        guard literal.first == "v" || literal.first == "V", let dot = literal.firstIndex(of: ".") else { return false }
        let version = literal[literal.index(after: literal.startIndex)..<dot].utf8
        let rest = literal[literal.index(after: dot)...]
        return !version.isEmpty && version.allSatisfy(\.isHexDigit) && !rest.isEmpty
            && isAllowed(rest.unicodeScalars, extra: userExtra, international: false)
    }

    /// RFC 6570 URI template: literals and `{...}` expressions of operator, variable names and modifiers.
    static func isTemplate(_ text: String) -> Bool {
        var scalars = Substring(text).unicodeScalars[...]
        while let scalar = scalars.popFirst() {
            switch scalar {
            case "{":
                guard let close = scalars.firstIndex(of: "}") else { return false }
                guard isTemplateExpression(scalars[..<close]) else { return false }
                scalars = scalars[scalars.index(after: close)...]
            case "}":
                return false
            case "%":
                guard let high = scalars.popFirst(), let low = scalars.popFirst(), high.isASCII, low.isASCII,
                    UInt8(high.value).isHexDigit, UInt8(low.value).isHexDigit
                else { return false }
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || excludedLiterals.contains(scalar) { return false }
            }
        }
        return true
    }

    private static func isTemplateExpression(_ body: Substring.UnicodeScalarView.SubSequence) -> Bool {
        var body = body
        if let first = body.first, templateOperators.contains(first) { body = body.dropFirst() }
        let specs = body.split(separator: ",", omittingEmptySubsequences: false)
        return specs.allSatisfy { spec in
            var name = spec[...]
            if name.last == "*" {
                name = name.dropLast()
            } else if let colon = name.firstIndex(of: ":") {
                let digits = name[name.index(after: colon)...]
                guard (1...4).contains(digits.count), digits.first != "0",
                    digits.allSatisfy({ $0.isASCII && UInt8($0.value).isDigit })
                else { return false }
                name = name[..<colon]
            }
            var previousWasDot = true
            var iterator = name.makeIterator()
            while let scalar = iterator.next() {
                if scalar == "." {
                    guard !previousWasDot else { return false }
                    previousWasDot = true
                    continue
                }
                previousWasDot = false
                if scalar == "%" {
                    guard let high = iterator.next(), let low = iterator.next(), high.isASCII, low.isASCII,
                        UInt8(high.value).isHexDigit, UInt8(low.value).isHexDigit
                    else { return false }
                    continue
                }
                guard scalar.isASCII, UInt8(scalar.value).isASCIILetter || UInt8(scalar.value).isDigit || scalar == "_"
                else { return false }
            }
            return !name.isEmpty && !previousWasDot
        }
    }
}
