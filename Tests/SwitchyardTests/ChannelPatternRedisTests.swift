import RedisClient
import RedisTestSupport
import Testing

@testable import Switchyard

/// Checks the glob table against the real server: for each row, a PSUBSCRIBE on the pattern and
/// a PUBLISH on the channel, whose reply counts the subscribers it reached.
@Suite(.serialized, .timeLimit(.minutes(10)), .needs(.redis)) struct ChannelPatternRedisTests {
    @Test func serverAgreesWithTheTableAndTheMatcher() async throws {
        try await withClient { client in
            for row in globTable where !row.channel.isEmpty {
                let pattern = try ChannelPattern(row.pattern)
                let reached = try await client.subscribe(toPatterns: [row.pattern]) { _ in
                    try await client.execute(PUBLISH(row.channel, message: "probe"))
                }
                #expect((reached > 0) == row.matches, "redis: \(row.pattern) ~ \(row.channel) reached \(reached)")
                #expect(pattern.matches(row.channel) == (reached > 0), "matcher disagrees with redis on \(row.pattern) ~ \(row.channel)")
            }
        }
    }

    @Test func shippedContractPatternsMatchWhatTheServerDelivers() async throws {
        let registry = try ContractRegistry.shipped()
        let channels = ["trades:user_0001", "price.updated.AAPL", "user:session_42", "trades:", "price.updated", "quotes.realtime"]
        try await withClient { client in
            for contract in registry.contracts where !contract.channel.isLiteral {
                for channel in channels {
                    let reached = try await client.subscribe(toPatterns: [contract.channel.rawValue]) { _ in
                        try await client.execute(PUBLISH(channel, message: "probe"))
                    }
                    #expect(contract.channel.matches(channel) == (reached > 0), "\(contract.channel) ~ \(channel)")
                }
            }
        }
    }
}
