/// Reads an ``OutboxStatement``'s SQL as PostgreSQL's lexer does, far enough to find where each
/// statement in it starts: quoted text (`'…'`, `E'…'`, `"…"`, `$tag$…$tag$`) and comments are
/// skipped, `;` outside them ends a statement.
///
/// ``Outbox/commit(_:emitting:file:line:)`` runs the statements in a PL/pgSQL `DO` block, where a statement
/// that starts with `SELECT` must be written `PERFORM`, and where `COMMIT` or `ROLLBACK` would
/// split the one transaction: the scan rewrites the first and finds the second.
enum SQLStatementScanner {
    struct Result {
        /// The SQL, trailing `;` and white space removed, each leading `SELECT` written `PERFORM`.
        var text: String
        /// The first transaction-control keyword that starts a statement, upper-cased.
        var transactionControl: String?
    }

    static let transactionKeywords: Set<String> = ["BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE", "PREPARE"]

    static func scan(_ sql: String) -> Result {
        let bytes = Array(sql.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + 8)
        var control: String?
        var atStatementStart = true
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if atStatementStart, isIdentifierStart(byte) {
                var end = index
                while end < bytes.count, isIdentifierPart(bytes[end]) { end += 1 }
                let word = String(decoding: bytes[index..<end], as: UTF8.self).uppercased()
                if word == "SELECT" {
                    output += Array("PERFORM".utf8)
                } else {
                    if control == nil, transactionKeywords.contains(word) { control = word }
                    output += bytes[index..<end]
                }
                atStatementStart = false
                index = end
                continue
            }
            let end = skipQuotedOrComment(bytes, at: index)
            if end > index {
                // A comment before a statement's first word leaves it the first word.
                if byte != UInt8(ascii: "-") && byte != UInt8(ascii: "/") { atStatementStart = false }
                output += bytes[index..<end]
                index = end
                continue
            }
            if byte == UInt8(ascii: ";") {
                atStatementStart = true
            } else if !isSpace(byte) {
                atStatementStart = false
            }
            output.append(byte)
            index += 1
        }
        while let last = output.last, isSpace(last) || last == UInt8(ascii: ";") { output.removeLast() }
        return Result(text: String(decoding: output, as: UTF8.self), transactionControl: control)
    }

    /// The index after the quoted text or comment that starts at `start`, or `start` when none does.
    static func skipQuotedOrComment(_ bytes: [UInt8], at start: Int) -> Int {
        let byte = bytes[start]
        let next = start + 1 < bytes.count ? bytes[start + 1] : 0
        let previous = start > 0 ? bytes[start - 1] : 0
        switch byte {
        case UInt8(ascii: "-") where next == UInt8(ascii: "-"):
            var end = start + 2
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            return end
        case UInt8(ascii: "/") where next == UInt8(ascii: "*"):
            var depth = 1
            var end = start + 2
            while end < bytes.count, depth > 0 {
                if bytes[end] == UInt8(ascii: "/"), end + 1 < bytes.count, bytes[end + 1] == UInt8(ascii: "*") {
                    depth += 1
                    end += 2
                } else if bytes[end] == UInt8(ascii: "*"), end + 1 < bytes.count, bytes[end + 1] == UInt8(ascii: "/") {
                    depth -= 1
                    end += 2
                } else {
                    end += 1
                }
            }
            return end
        case UInt8(ascii: "E"), UInt8(ascii: "e"):
            guard next == UInt8(ascii: "'"), !isIdentifierPart(previous) else { return start }
            return skipQuoted(bytes, from: start + 2, quote: UInt8(ascii: "'"), backslashEscapes: true)
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            return skipQuoted(bytes, from: start + 1, quote: byte, backslashEscapes: false)
        case UInt8(ascii: "$"):
            guard !isIdentifierPart(previous) else { return start }
            var end = start + 1
            guard end < bytes.count, bytes[end] == UInt8(ascii: "$") || isIdentifierStart(bytes[end]) else { return start }
            while end < bytes.count, bytes[end] != UInt8(ascii: "$") {
                guard isIdentifierPart(bytes[end]) else { return start }
                end += 1
            }
            guard end < bytes.count else { return start }
            let tag = bytes[start...end]
            var search = end + 1
            while search + tag.count <= bytes.count {
                if bytes[search..<(search + tag.count)].elementsEqual(tag) { return search + tag.count }
                search += 1
            }
            return bytes.count
        default:
            return start
        }
    }

    /// The index after the closing quote (a doubled quote is part of the text).
    static func skipQuoted(_ bytes: [UInt8], from start: Int, quote: UInt8, backslashEscapes: Bool) -> Int {
        var end = start
        while end < bytes.count {
            if backslashEscapes, bytes[end] == UInt8(ascii: "\\") {
                end += 2
            } else if bytes[end] == quote {
                if end + 1 < bytes.count, bytes[end + 1] == quote {
                    end += 2
                } else {
                    return end + 1
                }
            } else {
                end += 1
            }
        }
        return bytes.count
    }

    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0C
    }

    static func isIdentifierStart(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || byte == UInt8(ascii: "_") || byte >= 0x80
    }

    static func isIdentifierPart(_ byte: UInt8) -> Bool {
        isIdentifierStart(byte) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "$")
    }
}
