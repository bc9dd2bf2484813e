import Foundation
import Testing

/// `switchyard serve --demo`'s usage errors: the demo never runs against a real Redis or database.
@Suite struct ServeDemoTests {
    @Test func demoRefusesRedisAndPostgresFlags() async throws {
        for flags in [["--redis", "redis://127.0.0.1:1"], ["--postgres", "postgres://nobody@127.0.0.1:1/none"]] {
            let result = try await CLITests().run(["serve", "--demo", "--port", "0"] + flags)
            #expect(result.status == 64, "\(flags): \(result.stderr)")
            #expect(result.stderr.contains("--demo runs on the embedded engine"), "\(result.stderr)")
        }
    }

    @Test func demoSeedNeedsDemo() async throws {
        let result = try await CLITests().run(["serve", "--demo-seed", "7", "--port", "0"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--demo-seed needs --demo"), "\(result.stderr)")
    }
}
