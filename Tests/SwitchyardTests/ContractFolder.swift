import Foundation

/// A temporary folder of contract files for one test, removed when the test is done with it.
final class ContractFolder {
    let path: String

    init(_ files: [String: String]) throws {
        path = NSTemporaryDirectory() + "switchyard-contracts-" + UUID().uuidString
        for (name, text) in files {
            let file = (path as NSString).appendingPathComponent(name)
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: file, atomically: true, encoding: .utf8)
        }
        if files.isEmpty { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// A contract file for `channel` whose payload needs an integer `n` of at least 0.
    static func contract(_ channel: String, extra: String = "") -> String {
        """
        {"channel": "\(channel)", "version": 2, "description": "test", \(extra)
         "schema": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer", "minimum": 0}}},
         "examples": {"valid": [{"n": 1}], "invalid": [{"payload": {"n": -1}, "why": "negative"}]}}
        """
    }
}

extension Array where Element == String {
    /// Whether one of these problem lines names `file` and `location` and says `words`.
    func hasProblem(_ file: String, _ location: String, _ words: String) -> Bool {
        contains { $0.contains(file) && $0.contains(location) && $0.contains(words) }
    }
}
