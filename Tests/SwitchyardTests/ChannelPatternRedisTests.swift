import RedisClient
import RedisTestSupport
import Testing

@testable import Switchyard

/// Checks the glob table against the real server: for each row, a PSUBSCRIBE on the pattern and
/// a PUBLISH on the channel, whose reply counts the subscribers it reached.
@Suite(.serialized, .timeLimit(.minutes(10)), .needs(.redis)) struct ChannelPatternRedisTests {
    /// Whether a PUBLISH on `channel` reaches a PSUBSCRIBE on `pattern`: the subscribers it reaches
    /// with the subscription, less those it reaches without it (other tests' subscriptions on the
    /// shared server, `*` among them), read again until the others did not change meanwhile.
    static func reaches(_ pattern: String, _ channel: String, _ client: RedisClient) async throws -> Bool {
        for _ in 0..<20 {
            let before = try await client.execute(PUBLISH(channel, message: "probe"))
            let reached = try await client.subscribe(toPatterns: [pattern]) { _ in
                try await client.execute(PUBLISH(channel, message: "probe"))
            }
            let after = try await client.execute(PUBLISH(channel, message: "probe"))
            if before == after { return reached > before }
        }
        throw SubscribersKeptChanging(channel: channel)
    }

    struct SubscribersKeptChanging: Error { let channel: String }

    @Test func serverAgreesWithTheTableAndTheMatcher() async throws {
        try await withClient { client in
            for row in globTable where !row.channel.isEmpty {
                let pattern = try ChannelPattern(row.pattern)
                let reached = try await Self.reaches(row.pattern, row.channel, client)
                #expect(reached == row.matches, "redis: \(row.pattern) ~ \(row.channel) reached: \(reached)")
                #expect(pattern.matches(row.channel) == reached, "matcher disagrees with redis on \(row.pattern) ~ \(row.channel)")
            }
        }
    }

    @Test func shippedContractPatternsMatchWhatTheServerDelivers() async throws {
        let registry = try ContractRegistry.shipped()
        let channels = ["trades:user_0001", "price.updated.AAPL", "user:session_42", "trades:", "price.updated", "quotes.realtime"]
        try await withClient { client in
            for contract in registry.contracts where !contract.channel.isLiteral {
                for channel in channels {
                    let reached = try await Self.reaches(contract.channel.rawValue, channel, client)
                    #expect(contract.channel.matches(channel) == reached, "\(contract.channel) ~ \(channel)")
                }
            }
        }
    }
}
