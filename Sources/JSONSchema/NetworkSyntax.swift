/// Host names, IP addresses and e-mail addresses as JSON Schema's formats define them.
enum NetworkSyntax {
    /// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, 63 bytes a label,
    /// 253 in all, no trailing dot.
    static func isHostname(_ text: Substring) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            let bytes = label.utf8
            guard (1...63).contains(bytes.count), bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-")
            else { return false }
            if bytes.count >= 4, label.dropFirst(2).hasPrefix("--"), label.prefix(2).lowercased() != "xn" { return false }
            return bytes.allSatisfy { $0.isASCIILetter || $0.isDigit || $0 == UInt8(ascii: "-") }
        }
    }

    private static let labelSeparators: Set<Unicode.Scalar> = [".", "\u{3002}", "\u{FF0E}", "\u{FF61}"]

    /// RFC 5890 internationalized host name, structurally: labels split at any IDNA dot, none empty,
    /// none starting with a combining mark or starting or ending with a hyphen, `--` in the third and
    /// fourth position only for `xn--`, ASCII labels as in ``isHostname(_:)``. The IDNA2008 code point
    /// tables, contextual and bidirectional rules, and Punycode are not checked.
    static func isInternationalHostname(_ text: String) -> Bool {
        guard !text.isEmpty, text.unicodeScalars.count <= 253 else { return false }
        let labels = text.unicodeScalars.split(omittingEmptySubsequences: false) { labelSeparators.contains($0) }
        return labels.allSatisfy { label in
            guard let first = label.first, label.count <= 63, first != "-", label.last != "-" else { return false }
            if label.allSatisfy(\.isASCII) { return isHostname(Substring(String(String.UnicodeScalarView(label)))) }
            if label.count >= 4, label.dropFirst(2).prefix(2).elementsEqual(["-", "-"]) { return false }
            switch first.properties.generalCategory {
            case .spacingMark, .nonspacingMark, .enclosingMark: return false
            default: return true
            }
        }
    }

    /// Dotted-quad IPv4 address without leading zeros.
    static func isIPv4(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            let bytes = part.utf8
            guard (1...3).contains(bytes.count), bytes.allSatisfy(\.isDigit),
                bytes.count == 1 || bytes.first != UInt8(ascii: "0")
            else { return false }
            return Int(part)! <= 255
        }
    }

    /// RFC 4291 textual IPv6 address, with `::` compression and a trailing IPv4 part; no zone.
    static func isIPv6(_ text: Substring) -> Bool {
        let halves = text.split(separator: "::", maxSplits: 2, omittingEmptySubsequences: false)
        guard halves.count <= 2 else { return false }
        var groups = 0
        for (index, half) in halves.enumerated() where !half.isEmpty {
            let parts = half.split(separator: ":", omittingEmptySubsequences: false)
            for (partIndex, part) in parts.enumerated() {
                let isLast = index == halves.count - 1 && partIndex == parts.count - 1
                if isLast, part.contains(".") {
                    guard isIPv4(part) else { return false }
                    groups += 2
                } else {
                    guard (1...4).contains(part.utf8.count), part.utf8.allSatisfy(\.isHexDigit) else { return false }
                    groups += 1
                }
            }
        }
        return halves.count == 2 ? groups < 8 : groups == 8
    }

    private static let atomSymbols = Set("!#$%&'*+-/=?^_`{|}~".utf8)

    /// RFC 5321 mailbox: a dot-atom or quoted local part, `@`, and a host name or address literal.
    static func isEmail(_ text: String, international: Bool) -> Bool {
        guard let at = text.lastIndex(of: "@") else { return false }
        let local = text[..<at], domain = text[text.index(after: at)...]
        guard !local.isEmpty, !domain.isEmpty else { return false }
        let localValid: Bool
        if local.count >= 2, local.hasPrefix("\""), local.hasSuffix("\"") {
            localValid = !local.dropFirst().dropLast().unicodeScalars.contains { $0 == "\"" || $0.value < 0x20 }
        } else {
            localValid = local.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { atom in
                !atom.isEmpty && atom.unicodeScalars.allSatisfy { scalar in
                    if scalar.value >= 0x80 { return international }
                    let byte = UInt8(scalar.value)
                    return byte.isASCIILetter || byte.isDigit || atomSymbols.contains(byte)
                }
            }
        }
        guard localValid else { return false }
        if domain.hasPrefix("["), domain.hasSuffix("]") {
            let literal = domain.dropFirst().dropLast()
            if literal.hasPrefix("IPv6:") { return isIPv6(literal.dropFirst(5)) }
            return isIPv4(literal)
        }
        if international, domain.unicodeScalars.contains(where: { $0.value >= 0x80 }) {
            return !domain.hasPrefix(".") && !domain.hasSuffix(".") && !domain.contains("..")
                && !domain.unicodeScalars.contains { $0.value < 0x80 && !$0.properties.isAlphabetic
                    && !("0"..."9").contains($0) && $0 != "-" && $0 != "." }
        }
        return isHostname(domain)
    }
}
