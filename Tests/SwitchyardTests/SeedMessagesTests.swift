import Foundation
import JSONSchema
import Testing

@testable import Switchyard

/// Every example message quoted in the seed files of Switchyard's four user systems passes the
/// shipped contract of its channel: a contract that refuses its own system's messages is a defect.
///
/// The messages are in `Fixtures/seeds/`, one file per seed, each entry `{"seed", "section",
/// "channel", "message"}` with the message copied character for character from the seed. REC.IO's
/// (seed 000) are whole messages `{"topic", "timestamp", "data", "metadata"}`: their `data` is
/// checked against the contract of `topic`. The backtester's (seed 001) publish dicts are Python
/// with a `timestamp` variable, given here as the seed's channel-message time `2024-05-12T14:00:00Z`.
///
/// Not copied, because they cannot be parsed or carry no message literal:
/// - 000 "Message Validation Errors" (`["price": "must be numeric"]` is not JSON) and "Processing
///   Errors" (`"original_message": {...}`): error reports, not channel messages;
/// - 001 "Key Values" (`"wallet": {...}`; a key, not a channel), "Live Mode" and "Redis
///   Unavailable" (`position_data`, `message` are variables);
/// - 002 has no message literal: `trades:updates` publishes `{'type': 'trade_update', 'data':
///   trade_data}`, `trades:created` `{'trade_id': trade_id[0], 'trade_data': trade_data}`, `prices:btc`
///   `price_data`, and "Event Structure" holds `'data': {...}`;
/// - 004 gives pydantic field lists and no message.
@Suite struct SeedMessagesTests {
    static let registry = try! ContractRegistry.shipped()

    struct Entry: CustomTestStringConvertible, Sendable {
        let seed: String
        let section: String
        let channel: String
        let message: JSONValue
        var testDescription: String { "\(seed) \(section) on \(channel)" }
    }

    static let files = ["000_recio.json", "001_backtester.json", "003_opa.json"]

    static func entries(_ file: String) throws -> [Entry] {
        let url = try #require(Bundle.module.url(forResource: (file as NSString).deletingPathExtension, withExtension: "json", subdirectory: "seeds"))
        let list = try #require(try JSONValue(parsing: Data(contentsOf: url)).arrayValue)
        return try list.map { entry in
            Entry(
                seed: try #require(entry["seed"]?.stringValue), section: try #require(entry["section"]?.stringValue),
                channel: try #require(entry["channel"]?.stringValue), message: try #require(entry["message"]))
        }
    }

    @Test(arguments: files)
    func everySeedMessagePassesItsChannelsContract(_ file: String) throws {
        let entries = try Self.entries(file)
        #expect(!entries.isEmpty)
        for entry in entries {
            var payload = entry.message
            if entry.seed == "000" {
                #expect(entry.message["topic"]?.stringValue == entry.channel, "\(entry.testDescription)")
                payload = try #require(entry.message["data"], "\(entry.testDescription)")
            }
            let contract = try #require(Self.registry.contract(for: try ChannelName(entry.channel)), "\(entry.testDescription)")
            #expect(throws: Never.self, "\(entry.testDescription)") { try contract.validate(payload) }
            #expect(contract.validExamples.contains(payload), "\(entry.testDescription) is not among the contract's valid examples")
        }
    }

    @Test func everyFixtureFileIsChecked() throws {
        let urls = Bundle.module.urls(forResourcesWithExtension: "json", subdirectory: "seeds") ?? []
        #expect(Set(urls.map(\.lastPathComponent)) == Set(Self.files))
    }
}
