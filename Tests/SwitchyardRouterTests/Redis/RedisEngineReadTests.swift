import Foundation
import JSONSchema
import NIOCore
import RedisClient
import Switchyard
import SwitchyardRedis
import RedisTestSupport
import Testing

@Suite("Redis engine: timestamps and reads by sequence", .needs(.redis))
struct RedisEngineReadTests {
    static func request(_ channel: ChannelName, at milliseconds: Int64, _ n: Int = 0) -> AppendRequest {
        AppendRequest(
            eventID: .generate(), channel: channel, timestamp: Timestamp(unixMilliseconds: milliseconds), source: "tests",
            schema: "test:*@1", data: Fixtures.payload(n), rules: AppendRules(retention: .seconds(200 * 365 * 86_400), dedupWindow: .seconds(300), rateLimit: nil))
    }

    @Test(
        "the script writes the same RFC 3339 text as Swift's Timestamp, the stream id's milliseconds",
        arguments: [
            Int64(0), 951_782_400_000, 1_709_251_199_999, 1_735_689_599_999, 1_769_509_805_123, 4_102_444_799_999, 4_107_542_400_000,
        ])
    func timestamps(milliseconds: Int64) async throws {
        try await EngineKind.redis.isolated {
            let engine = RedisTestServer.makeEngine(configuration: .init())
            let check = try RedisTestServer.client()
            let channel = Fixtures.channel("test:time.\(milliseconds)")
            let receipt = try #require(try await engine.append([Self.request(channel, at: milliseconds)]).first)
            #expect(receipt.timestamp.unixMilliseconds == milliseconds)
            let entry = try #require(try await check.execute(XRANGE("stream:{\(channel.rawValue)}")).first)
            let text = String(buffer: try #require(entry[field: "envelope"]))
            let object = try JSONValue(parsing: text)
            #expect(object["timestamp"] == .string(Timestamp(unixMilliseconds: milliseconds).description))
            #expect(entry.id.milliseconds == UInt64(milliseconds))
        }
    }

    @Test("reads by sequence number find the entry in runs of many entries per millisecond, and after trims")
    func readsBySequence() async throws {
        try await EngineKind.redis.isolated {
            let engine = RedisTestServer.makeEngine(configuration: .init(maxEntriesPerChannel: 250))
            let channel = Fixtures.channel("test:byseq")
            let start: Int64 = 1_800_000_000_000
            for batch in 0..<3 {
                _ = try await engine.append((0..<100).map { Self.request(channel, at: start + Int64(batch * 7 + $0 / 40), batch * 100 + $0) })
            }
            #expect(try await engine.info(channel).firstSequenceNumber == 51)
            for (from, expected) in [(1, 51), (50, 51), (51, 51), (52, 52), (101, 101), (140, 140), (241, 241), (300, 300)] {
                let page = try await engine.read(channel, from: .sequence(Int64(from)), limit: 10)
                #expect(page.first?.envelope.sequenceNumber == Int64(expected), "from \(from)")
                #expect(page.map(\.envelope.sequenceNumber) == Array(Int64(expected)..<min(Int64(expected) + 10, 301)))
            }
            #expect(try await engine.read(channel, from: .sequence(301), limit: 10).isEmpty)
            let byTime = try await engine.read(channel, from: .time(Timestamp(unixMilliseconds: start + 14)), limit: 5)
            #expect(byTime.first?.envelope.sequenceNumber == 201)
            let after = try await engine.read(channel, from: .after(byTime[1].position), limit: 2)
            #expect(after.map(\.envelope.sequenceNumber) == [203, 204])
        }
    }
}
