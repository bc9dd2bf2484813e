@testable import SwitchyardGateway
import NIOCore
import Switchyard
import Testing

/// The per-connection queue: order, conflation, overflow.
@Suite struct SessionQueueTests {
    static func event(_ channel: String, _ n: Int, conflatable: Bool) throws -> SessionQueue.Frame {
        .event(channel: try ChannelName(channel), conflatable: conflatable, bytes: ByteBuffer(string: "\(channel)#\(n)"))
    }

    static func reply() throws -> SessionQueue.Frame {
        .control(ByteBuffer(string: "reply"))
    }

    static func drain(_ queue: inout SessionQueue) -> [String] {
        var frames: [String] = []
        while let bytes = queue.pop() { frames.append(String(buffer: bytes)) }
        return frames
    }

    @Test func framesLeaveInOrderBelowTheLimit() throws {
        var queue = SessionQueue(limit: 4)
        #expect(queue.push(try Self.event("q.a", 1, conflatable: true)))
        #expect(queue.push(try Self.reply()))
        #expect(queue.push(try Self.event("t:a", 1, conflatable: false)))
        #expect(Self.drain(&queue) == ["q.a#1", "reply", "t:a#1"])
        #expect(queue.count == 0)
    }

    @Test func aFullQueueKeepsTheLatestEventPerConflatableChannel() throws {
        var queue = SessionQueue(limit: 3)
        for n in 1...3 { #expect(queue.push(try Self.event("q.a", n, conflatable: true))) }
        #expect(queue.push(try Self.event("q.b", 1, conflatable: true)))
        #expect(queue.push(try Self.event("q.a", 4, conflatable: true)))
        #expect(queue.push(try Self.event("t:x", 1, conflatable: false)))
        #expect(Self.drain(&queue) == ["q.b#1", "q.a#4", "t:x#1"])
    }

    @Test func aFullQueueOfLosslessEventsOverflows() throws {
        var queue = SessionQueue(limit: 2)
        #expect(queue.push(try Self.event("t:a", 1, conflatable: false)))
        #expect(queue.push(try Self.event("t:a", 2, conflatable: false)))
        #expect(!queue.push(try Self.event("t:a", 3, conflatable: false)))
        #expect(!queue.push(try Self.reply()))
    }

    @Test func popAndPushInterleaveOverManyFrames() throws {
        var queue = SessionQueue(limit: 8)
        var popped: [String] = []
        for n in 1...500 {
            #expect(queue.push(try Self.event("t:a", n, conflatable: false)))
            while queue.count > 5 { popped.append(String(buffer: queue.pop()!)) }
        }
        popped += Self.drain(&queue)
        #expect(popped == (1...500).map { "t:a#\($0)" })
    }
}
