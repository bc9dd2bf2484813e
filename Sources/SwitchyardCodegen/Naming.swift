/// How generated types and members are named.
public enum Naming {
    /// Names a generated type never takes, because the generated code uses them: a type so
    /// named gets `Value` appended.
    public static let reservedTypeNames: Set<String> = [
        "String", "Int", "Int64", "Double", "Bool", "Array", "Dictionary", "Optional", "JSONValue", "JSONObject", "CodingKeys",
        "Codable", "Encodable", "Decodable", "Encoder", "Decoder", "Sendable", "Equatable", "Hashable", "CaseIterable", "Error",
        "Self", "Type", "Protocol", "Any", "ContractPayload", "ChannelPayload", "ChannelName", "GeneratedContractPayloads",
        "Switchyard", "Foundation",
        // Python and TypeScript names the generated modules use.
        "Any", "ClassVar", "Literal", "Mapping", "Self", "Union", "dataclass", "ChannelPayloads", "ChannelPatternPayloads",
        "PayloadFor", "Record", "Object", "Number", "Boolean", "Symbol", "Date", "Promise",
    ]

    /// The type name of each contract's payload, in the order given.
    ///
    /// A schema whose `title` is an identifier (`OrderEvent`) names its type; otherwise the name is the
    /// channel's segments in UpperCamelCase, glob characters left out (`trades:order_filled` is
    /// `TradesOrderFilled`, `trades:*` is `Trades`). Names that two contracts would share get the
    /// contract's `origin` appended (`SystemHealthOPA`), then a number, in channel order.
    public static func typeNames(for contracts: [CodegenContract]) -> [String] {
        let base = contracts.map(baseName)
        var names = base
        for (index, name) in base.enumerated() where base.filter({ $0 == name }).count > 1 {
            if let origin = contracts[index].origin.map(typeName), !origin.isEmpty, origin != "Value" {
                names[index] = name + origin
            }
        }
        var seen: [String: Int] = [:]
        for (index, name) in names.enumerated() {
            let count = seen[name, default: 0] + 1
            seen[name] = count
            if count > 1 { names[index] = "\(name)\(count)" }
        }
        return names
    }

    private static func baseName(_ contract: CodegenContract) -> String {
        if let title = contract.schema["title"]?.stringValue, isIdentifier(title), !reservedTypeNames.contains(title) {
            return title
        }
        let name = typeName(contract.channel)
        return reservedTypeNames.contains(name) ? name + "Payload" : name
    }

    /// Whether `text` is an ASCII identifier: a letter or `_`, then letters, digits and `_`.
    public static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, isLetter(first) || first == "_" else { return false }
        return text.unicodeScalars.allSatisfy { isLetter($0) || isDigit($0) || $0 == "_" }
    }

    /// The words of a name: runs of ASCII letters and digits.
    static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        for scalar in text.unicodeScalars {
            if isLetter(scalar) || isDigit(scalar) {
                current.unicodeScalars.append(scalar)
            } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// `order_filled` → `OrderFilled`: each word with its first letter upper-cased; `Value` when
    /// nothing is left, `T` in front of a leading digit.
    public static func typeName(_ text: String) -> String {
        let name = words(text).map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        if name.isEmpty { return "Value" }
        return isDigit(name.unicodeScalars.first!) ? "T" + name : name
    }

    /// `order_id` → `orderId`, `ID` → `id`: the first word lower-cased (all of it when it is all
    /// upper case), the others with an upper-case first letter.
    public static func memberName(_ text: String) -> String {
        let parts = words(text)
        guard let first = parts.first else { return "value" }
        let head = first.uppercased() == first ? first.lowercased() : first.prefix(1).lowercased() + first.dropFirst()
        let name = head + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        return isDigit(name.unicodeScalars.first!) ? "_" + name : name
    }

    static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
    }

    static func isDigit(_ scalar: Unicode.Scalar) -> Bool {
        ("0"..."9").contains(scalar)
    }

    /// Gives each name a unique variant, in order: a repeated name gets `2`, `3`, … appended.
    static func unique(_ names: [String], avoiding taken: Set<String> = []) -> [String] {
        var used = taken
        return names.map { name in
            var candidate = name
            var counter = 2
            while used.contains(candidate) {
                candidate = "\(name)\(counter)"
                counter += 1
            }
            used.insert(candidate)
            return candidate
        }
    }
}
