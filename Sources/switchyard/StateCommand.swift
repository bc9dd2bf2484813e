import ArgumentParser
import JSONSchema

/// `switchyard state set KEY FILE` and `switchyard state get KEY`: named state keys.
struct StateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Set or read a named state key (position:snapshot, cache:prices:btc:current, …).",
        discussion: """
            Keys and their TTLs come from the state-key table (docs/state.md). Exit codes: 0 ok, \
            1 refused or (get) no value, 3 the server or Redis cannot be reached, 64 usage.
            """,
        subcommands: [Set.self, Get.self])

    /// `switchyard state set KEY FILE|-`: sets the key to the JSON value and prints the key and TTL.
    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a state key to a JSON value and print {\"key\", \"ttl\", \"ttl_seconds\"}.")

        @OptionGroup var client: ClientOptions
        @Argument(help: "The state key.") var key: String
        @Argument(help: ArgumentHelp("A file holding the JSON value, or '-' for standard input.", valueName: "FILE|-"))
        var file: String

        func run() async throws {
            let bytes = try PublishCommand.payloadBytes(file)
            let backend = try client.backend()
            try await runClient { () async throws(ClientFailure) in
                print(try await backend.setState(key: key, value: bytes).serialized())
            }
        }
    }

    /// `switchyard state get KEY`: prints the value (exit 1 when there is none).
    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a state key's JSON value; with --json, {\"key\", \"value\", \"ttl_seconds\", \"family\"}.")

        @OptionGroup var client: ClientOptions
        @Argument(help: "The state key.") var key: String
        @Flag(help: "Print the value with its key, remaining TTL and family.")
        var json = false

        func run() async throws {
            let backend = try client.backend()
            try await runClient { () async throws(ClientFailure) in
                let answer = try await backend.state(key: key)
                print(json ? answer.serialized() : (answer["value"] ?? .null).serialized())
            }
        }
    }
}
