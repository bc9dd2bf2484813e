import Foundation
import JSONSchema
import Testing

/// Runs the official JSON Schema Test Suite (draft-07) found at `$JSON_SCHEMA_TEST_SUITE`, or at
/// `../shared/conformance/json-schema-test-suite` beside the package root.
@Suite struct ConformanceTests {
    struct Tally {
        var passed = 0
        var total = 0
        var failures: [String] = []
    }

    static let suiteRoot: URL = {
        if let path = ProcessInfo.processInfo.environment["JSON_SCHEMA_TEST_SUITE"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return packageRoot.appendingPathComponent("../shared/conformance/json-schema-test-suite").standardized
    }()

    static let remotePrefix = "http://localhost:1234/"

    static func remote(_ uri: String) -> JSONValue? {
        guard uri.hasPrefix(remotePrefix) else { return nil }
        let file = suiteRoot.appendingPathComponent("remotes").appendingPathComponent(String(uri.dropFirst(remotePrefix.count)))
        guard let data = try? Data(contentsOf: file) else { return nil }
        return try? JSONValue(parsing: data)
    }

    static func files(in directory: URL, recursive: Bool) -> [URL] {
        let manager = FileManager.default
        let names = (recursive ? manager.subpaths(atPath: directory.path) : try? manager.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().map { directory.appendingPathComponent($0) }
    }

    static func run(_ files: [URL]) throws -> Tally {
        var tally = Tally()
        for file in files {
            let cases = try JSONValue(parsing: Data(contentsOf: file)).arrayValue ?? []
            for testCase in cases {
                let caseName = "\(file.lastPathComponent): \(testCase["description"]?.stringValue ?? "?")"
                let schema = try? CompiledSchema(compiling: testCase["schema"] ?? true, resolveRemote: remote)
                for test in testCase["tests"]?.arrayValue ?? [] {
                    tally.total += 1
                    let data = test["data"] ?? nil
                    let expected = test["valid"]?.boolValue ?? false
                    let verdict = schema.map { $0.isValid(data) }
                    let failures = schema.map { $0.validate(data) }
                    if verdict == expected, failures?.isEmpty == expected {
                        tally.passed += 1
                    } else {
                        let reason = schema == nil ? "does not compile" : "expected \(expected ? "valid" : "invalid")"
                        tally.failures.append("\(caseName) / \(test["description"]?.stringValue ?? "?") (\(reason))")
                    }
                }
            }
        }
        return tally
    }

    @Test func draft7() throws {
        let draft7 = Self.suiteRoot.appendingPathComponent("tests/draft7")
        guard FileManager.default.fileExists(atPath: draft7.path) else {
            Issue.record("JSON Schema Test Suite not found at \(draft7.path); set JSON_SCHEMA_TEST_SUITE to its folder")
            return
        }
        let required = try Self.run(Self.files(in: draft7, recursive: false))
        let optional = try Self.run(Self.files(in: draft7.appendingPathComponent("optional"), recursive: true))
        print("draft7 required: \(required.passed)/\(required.total) passed, optional: \(optional.passed)/\(optional.total) passed")
        if ProcessInfo.processInfo.environment["JSON_SCHEMA_TEST_VERBOSE"] != nil {
            print(optional.failures.map { "optional failure: " + $0 }.joined(separator: "\n"))
        }
        #expect(required.failures.isEmpty, "failing required cases:\n\(required.failures.joined(separator: "\n"))")
    }
}
