import ArgumentParser
import JSONSchema

/// `switchyard dlq list | requeue | drop CHANNEL`: a channel's dead letters.
struct DLQCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "List, requeue or drop a channel's dead letters.",
        discussion: "Exit codes: 0 ok, 1 refused, 3 unreachable, 64 usage.",
        subcommands: [List.self, Requeue.self, Drop.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a channel's dead letters, oldest first.",
            discussion: "A table with ID, GROUP, DELIVERIES, FAILED_AT, SEQ and ERROR; --json prints the /v1/dlq document.")

        @OptionGroup var client: ClientOptions
        @Argument(help: "The channel.") var channel: String
        @Option(help: "The most dead letters listed (default 1000).") var limit: Int?
        @Flag(help: "Print the JSON document.") var json = false

        func run() async throws {
            let backend = try client.backend()
            try await runClient { () async throws(ClientFailure) in
                let answer = try await backend.deadLetters(channel: channel, limit: limit)
                if json { print(answer.serialized()); return }
                var rows = [["ID", "GROUP", "DELIVERIES", "FAILED_AT", "SEQ", "ERROR"]]
                for letter in answer["dead_letters"]?.arrayValue ?? [] {
                    rows.append([
                        letter["id"]?.stringValue ?? "", letter["group"]?.stringValue ?? "", (letter["deliveries"] ?? .null).serialized(),
                        letter["failed_at"]?.stringValue ?? "", (letter["envelope"]?["sequence_number"] ?? .null).serialized(),
                        letter["error"]?["message"]?.stringValue ?? (letter["error"] ?? .null).serialized(),
                    ])
                }
                printTable(rows)
            }
        }
    }

    struct Requeue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish dead letters back onto their channel's stream, and remove them from the dead-letter stream.")

        @OptionGroup var target: DeadLetterTarget
        func run() async throws { try await target.act("requeue") }
    }

    struct Drop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete dead letters.")

        @OptionGroup var target: DeadLetterTarget
        func run() async throws { try await target.act("drop") }
    }
}

/// The dead letters a `requeue` or `drop` acts on: ids, or `--all`.
struct DeadLetterTarget: ParsableArguments {
    @OptionGroup var client: ClientOptions
    @Argument(help: "The channel.") var channel: String
    @Argument(help: ArgumentHelp("Dead-letter ids, as `dlq list` shows them.", valueName: "ID")) var ids: [String] = []
    @Flag(help: "Every dead letter of the channel (up to 10,000 at a time).") var all = false

    func validate() throws {
        if all == !ids.isEmpty { throw ValidationError("give dead-letter ids or --all, not both and not neither") }
    }

    /// Prints `{"action","requested","found"}`.
    func act(_ action: String) async throws {
        let backend = try client.backend()
        try await runClient { () async throws(ClientFailure) in
            var ids = self.ids
            if all {
                let listed = try await backend.deadLetters(channel: channel, limit: 10_000)
                ids = (listed["dead_letters"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
            }
            print(try await backend.actOnDeadLetters(channel: channel, action: action, ids: ids).serialized())
        }
    }
}
