import ArgumentParser
import Foundation
import JSONSchema

/// `switchyard publish CHANNEL JSON|FILE|-`: publishes one event and prints its receipt.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish one event and print its receipt.",
        discussion: """
            The payload is the JSON given, a file holding it, or standard input ('-'). Prints the \
            receipt (event_id, sequence_number, …) as JSON. Exit codes: 0 published (or a \
            duplicate of an earlier publish), 1 refused (the structured error on standard output), \
            3 the server or Redis cannot be reached, 64 usage.
            """)

    @OptionGroup var client: ClientOptions
    @Argument(help: "The channel to publish to.") var channel: String
    @Argument(help: ArgumentHelp("The payload: JSON text, a file, or '-' for standard input.", valueName: "JSON|FILE|-"))
    var payload: String
    @Option(help: ArgumentHelp("The event id (a UUID): publishing it again within the dedup window stores it once.", valueName: "ID"))
    var eventID: String?

    func run() async throws {
        let bytes = try Self.payloadBytes(payload)
        let backend = try client.backend()
        try await runClient { () async throws(ClientFailure) in
            print(try await backend.publish(channel: channel, payload: bytes, eventID: eventID).serialized())
        }
    }

    /// The payload's bytes: standard input for `-`, the file the argument names when there is
    /// one, else the argument itself when it starts like a JSON object or array.
    /// - Throws: `ValidationError` (usage) when the argument is neither.
    static func payloadBytes(_ argument: String) throws -> [UInt8] {
        if argument == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
        if let data = FileManager.default.contents(atPath: argument) { return Array(data) }
        if let first = argument.first(where: { !$0.isWhitespace }), first == "{" || first == "[" { return Array(argument.utf8) }
        throw ValidationError("the payload '\(argument.prefix(40))' is neither JSON text nor a readable file")
    }
}
