import RedisTestSupport
import NIOCore
import RESP
import RedisClient
import Testing

func configuration(protocol version: Int) throws -> RedisConfiguration {
    var configuration = try TestEnvironment.configuration()
    configuration.protocolVersion = version == 2 ? .resp2 : .resp3
    return configuration
}

@Suite(.timeLimit(.minutes(10))) struct StreamCommandTests {
    @Test(.needs(.redis), arguments: [2, 3]) func addRangeTrimAndLength(version: Int) async throws {
        try await withClient(try configuration(protocol: version)) { client throws in
            let key = TestEnvironment.uniqueKey("stream")
            let first = try await client.execute(XADD(key, id: StreamID(milliseconds: 1, sequence: 1), fields: ["a": ByteBuffer(string: "1")]))
            #expect(first == StreamID(milliseconds: 1, sequence: 1))
            var ids = [first]
            for index in 2...10 {
                ids.append(try await client.execute(XADD(key, fields: ["n": ByteBuffer(string: "\(index)"), "k": ByteBuffer(string: "v")])))
            }
            #expect(ids == ids.sorted())
            #expect(try await client.execute(XLEN(key)) == 10)

            let range = try await client.execute(XRANGE(key, count: 3))
            #expect(range.map(\.id) == Array(ids.prefix(3)))
            #expect(range.first?[field: "a"].map { String(buffer: $0) } == "1")
            #expect(range[1].fields.map(\.name) == ["n", "k"])
            let reversed = try await client.execute(XREVRANGE(key, count: 2))
            #expect(reversed.map(\.id) == Array(ids.suffix(2).reversed()))
            let bounded = try await client.execute(XRANGE(key, start: ids[2].description, end: ids[4].description))
            #expect(bounded.map(\.id) == Array(ids[2...4]))

            _ = try await client.execute(XADD(key, fields: ["x": ByteBuffer(string: "y")], trim: .maxLength(8)))
            #expect(try await client.execute(XLEN(key)) == 8)
            _ = try await client.execute(XADD(key, fields: ["x": ByteBuffer(string: "y")], trim: .maxLength(5, approximate: true)))
            #expect(try await client.execute(XLEN(key)) >= 5)
            #expect(try await client.execute(XTRIM(key, .maxLength(4))) >= 1)
            #expect(try await client.execute(XLEN(key)) == 4)
            let remaining = try await client.execute(XRANGE(key))
            let trimmed = try await client.execute(XTRIM(key, .minimumID(remaining[2].id)))
            #expect(trimmed == 2)
            _ = try await client.execute(XADD(key, fields: ["x": ByteBuffer(string: "y")], trim: .minimumID(remaining[3].id, approximate: true)))
            #expect(try await client.execute(XTRIM(key, .minimumID(.zero, approximate: true))) == 0)
            _ = try await client.execute(DEL(key))
        }
    }

    @Test(.needs(.redis), arguments: [2, 3]) func readAndBlock(version: Int) async throws {
        try await withClient(try configuration(protocol: version)) { client throws in
            let key = TestEnvironment.uniqueKey("read")
            let other = TestEnvironment.uniqueKey("read-other")
            let id = try await client.execute(XADD(key, fields: ["f": ByteBuffer(string: "v")]))
            _ = try await client.execute(XADD(other, fields: ["g": ByteBuffer(string: "w")]))
            let reads = try await client.execute(XREAD(streams: [(key, "0"), (other, "0")], count: 10))
            #expect(reads.count == 2)
            #expect(reads.first { $0.stream == key }?.entries.map(\.id) == [id])
            #expect(try await client.execute(XREAD(streams: [(key, id.description)], block: .milliseconds(50))).isEmpty)

            async let blocked = client.execute(XREAD(streams: [(key, id.description)], count: 1, block: .seconds(5)))
            // Waits until a client is blocked in XREAD (on a shared server, maybe another test's:
            // reading after `id` returns the entry whether the XADD lands before or during the block).
            _ = try await eventually(timeout: .seconds(5)) {
                try await client.execute(GenericCommand("CLIENT", "LIST")).string?.contains("cmd=xread") == true
            }
            let next = try await client.execute(XADD(key, fields: ["f": ByteBuffer(string: "later")]))
            let woke = try await blocked
            #expect(woke.first?.entries.map(\.id) == [next])
            _ = try await client.execute(DEL(key, other))
        }
    }

    @Test(.needs(.redis), arguments: [2, 3]) func consumerGroupsEndToEnd(version: Int) async throws {
        try await withClient(try configuration(protocol: version)) { client throws in
            let key = TestEnvironment.uniqueKey("group")
            #expect(try await client.execute(XGROUP.CREATE(key, group: "g", id: "$", makeStream: true)))
            do {
                _ = try await client.execute(XGROUP.CREATE(key, group: "g"))
                Issue.record("a second CREATE should fail")
            } catch let error as RedisError {
                #expect(error.serverErrorPrefix == "BUSYGROUP")
            }
            var ids: [StreamID] = []
            for index in 0..<4 { ids.append(try await client.execute(XADD(key, fields: ["i": ByteBuffer(string: "\(index)")]))) }

            let read = try await client.execute(XREADGROUP(group: "g", consumer: "alice", streams: [(key, ">")], count: 3))
            #expect(read.first?.entries.map(\.id) == Array(ids.prefix(3)))
            #expect(try await client.execute(XREADGROUP(group: "g", consumer: "bob", streams: [(key, ">")], count: 10, block: .milliseconds(10))).first?.entries.map(\.id) == [ids[3]])
            #expect(try await client.execute(XREADGROUP(group: "g", consumer: "bob", streams: [(key, ">")], block: .milliseconds(10))).isEmpty)

            let summary = try await client.execute(XPENDING(key, group: "g"))
            #expect(summary.count == 4)
            #expect(summary.smallest == ids[0])
            #expect(summary.greatest == ids[3])
            #expect(summary.consumers == ["alice": 3, "bob": 1])

            #expect(try await client.execute(XACK(key, group: "g", ids: [ids[0]])) == 1)
            let extended = try await client.execute(XPENDING.Extended(key, group: "g", count: 10, consumer: "alice"))
            #expect(extended.map(\.id) == [ids[1], ids[2]])
            #expect(extended.allSatisfy { $0.consumer == "alice" && $0.deliveries == 1 })
            let idle = try await client.execute(XPENDING.Extended(key, group: "g", minimumIdle: .seconds(3600), count: 10))
            #expect(idle.isEmpty)

            let claimed = try await client.execute(XCLAIM(key, group: "g", consumer: "carol", minimumIdle: .zero, ids: [ids[1]]))
            #expect(claimed.map(\.id) == [ids[1]])
            #expect(claimed.first?[field: "i"].map { String(buffer: $0) } == "1")

            let auto = try await client.execute(XAUTOCLAIM(key, group: "g", consumer: "carol", minimumIdle: .zero, count: 10))
            #expect(Set(auto.entries.map(\.id)) == Set([ids[1], ids[2], ids[3]]))
            #expect(auto.next == .zero)
            #expect(auto.deleted.isEmpty)

            let stream = try await client.execute(XINFO.STREAM(key))
            #expect(stream.length == 4)
            #expect(stream.groups == 1)
            #expect(stream.lastGeneratedID == ids[3])
            #expect(stream.firstEntry?.id == ids[0])
            #expect(stream.lastEntry?.id == ids[3])
            let groups = try await client.execute(XINFO.GROUPS(key))
            #expect(groups.map(\.name) == ["g"])
            #expect(groups.first?.pending == 3)
            #expect(groups.first?.lastDeliveredID == ids[3])
            let consumers = try await client.execute(XINFO.CONSUMERS(key, group: "g"))
            #expect(Set(consumers.map(\.name)) == ["alice", "bob", "carol"])
            #expect(consumers.first { $0.name == "carol" }?.pending == 3)

            #expect(try await client.execute(XGROUP.DELCONSUMER(key, group: "g", consumer: "carol")) == 3)
            #expect(try await client.execute(XGROUP.SETID(key, group: "g", id: "0")))
            let again = try await client.execute(XREADGROUP(group: "g", consumer: "dave", streams: [(key, ">")], noAck: true))
            #expect(again.first?.entries.count == 4)
            #expect(try await client.execute(XGROUP.DESTROY(key, group: "g")))
            #expect(try await client.execute(XGROUP.DESTROY(key, group: "g")) == false)
            _ = try await client.execute(DEL(key))
        }
    }

    @Test func streamIDParsesAndOrders() {
        #expect(StreamID("1526919030474-55") == StreamID(milliseconds: 1_526_919_030_474, sequence: 55))
        #expect(StreamID("7") == StreamID(milliseconds: 7, sequence: 0))
        #expect(StreamID("x-1") == nil)
        #expect(StreamID("1-2-3") == nil)
        #expect(StreamID(milliseconds: 1, sequence: 9) < StreamID(milliseconds: 2, sequence: 0))
        #expect(StreamID(milliseconds: 5, sequence: 6).description == "5-6")
    }
}
