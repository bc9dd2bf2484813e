import ArgumentParser
import JSONSchema

/// `switchyard replay CHANNEL_OR_PATTERN`: prints stored events, oldest first.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Print a channel's (or a pattern's) stored events, oldest first.",
        discussion: """
            One line per event: sequence number, timestamp, channel and payload; with --json, one \
            envelope per line (JSON Lines). A pattern replays only the channels the caller may \
            read. Exit codes: 0 ok, 1 refused, 3 unreachable, 64 usage.
            """)

    @OptionGroup var client: ClientOptions
    @Argument(help: ArgumentHelp("A channel name or a glob pattern (trades:*).", valueName: "CHANNEL_OR_PATTERN"))
    var channel: String
    @Option(help: ArgumentHelp("Start here: a sequence number or an RFC 3339 time (inclusive).", valueName: "SEQ|TIME"))
    var since: String?
    @Option(help: ArgumentHelp("Stop here: a sequence number or an RFC 3339 time (inclusive).", valueName: "SEQ|TIME"))
    var until: String?
    @Option(help: "The most events printed (default 1000).")
    var limit: Int?
    @Flag(help: "Print whole envelopes, one JSON object per line.")
    var json = false

    func validate() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must not be negative") }
    }

    func run() async throws {
        let backend = try client.backend()
        try await runClient { () async throws(ClientFailure) in
            let answer = try await backend.replay(channel: channel, since: since, until: until, limit: limit)
            for event in answer["events"]?.arrayValue ?? [] {
                if json {
                    print(event.serialized())
                } else {
                    let sequence = event["sequence_number"].map { $0.serialized() } ?? "?"
                    print("\(sequence)\t\(event["timestamp"]?.stringValue ?? "")\t\(event["channel"]?.stringValue ?? "")\t\((event["data"] ?? .null).serialized())")
                }
            }
        }
    }
}
