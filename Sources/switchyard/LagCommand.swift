import ArgumentParser
import Foundation
import JSONSchema

/// `switchyard lag [CHANNEL_OR_PATTERN]`: consumer groups with their pending entries and lag.
struct LagCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lag",
        abstract: "Show every consumer group's pending entries and lag.",
        discussion: """
            A table with CHANNEL, GROUP, PENDING (delivered, not acked), LAG (entries not yet \
            delivered) and LAG_S (the age in seconds of the oldest of those); --json prints the \
            /v1/groups document. Exit codes: 0 ok, 1 refused, 3 unreachable, 64 usage.
            """)

    @OptionGroup var client: ClientOptions
    @Argument(help: ArgumentHelp("Only these channels: a name or a glob (default: every channel).", valueName: "CHANNEL_OR_PATTERN"))
    var channel: String?
    @Flag(help: "Print the JSON document.")
    var json = false

    func run() async throws {
        let backend = try client.backend()
        try await runClient { () async throws(ClientFailure) in
            let answer = try await backend.groups(channel: channel)
            if json { print(answer.serialized()); return }
            var rows = [["CHANNEL", "GROUP", "PENDING", "LAG", "LAG_S"]]
            for group in answer["groups"]?.arrayValue ?? [] {
                rows.append([
                    group["channel"]?.stringValue ?? "", group["group"]?.stringValue ?? "", (group["pending"] ?? .null).serialized(),
                    (group["lag"] ?? .null).serialized(), String(format: "%.3f", group["lag_seconds"]?.doubleValue ?? 0),
                ])
            }
            printTable(rows)
        }
    }
}

/// Prints rows as left-aligned columns separated by two spaces.
func printTable(_ rows: [[String]]) {
    let widths = (0..<(rows.first?.count ?? 0)).map { column in rows.map { $0[column].count }.max() ?? 0 }
    for row in rows {
        let cells = row.enumerated().map { index, cell in index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0) }
        print(cells.joined(separator: "  "))
    }
}
