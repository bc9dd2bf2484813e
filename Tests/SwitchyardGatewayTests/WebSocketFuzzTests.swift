import Foundation
import JSONSchema
import NIOCore
import NIOPosix
import Switchyard
import SwitchyardGateway
import Synchronization
import Testing

/// A WebSocket client on a raw TCP connection, so a test can send any bytes at all: frames
/// that break the protocol, garbage, truncated headers. What the server sends is collected by a
/// handler on the connection's event loop and read by polling, so a read can time out without
/// disturbing the connection.
struct RawWebSocket {
    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        struct State {
            var bytes = ByteBuffer()
            var closed = false
        }
        let state = Mutex(State())

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var incoming = unwrapInboundIn(data)
            state.withLock { _ = $0.bytes.writeBuffer(&incoming) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            state.withLock { $0.closed = true }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    let channel: any Channel
    let collector: Collector

    /// What the server did.
    enum Reply: Equatable {
        case text(String)
        case close(UInt16?)
        case eof
    }

    /// Connects and upgrades; `early` is sent in the same write as the upgrade request, before
    /// the server has answered it.
    static func connect(port: Int, path: String = "/v1/ws", upgrade: String = "websocket", early: [UInt8] = []) async throws -> RawWebSocket {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) } }
            .connect(host: "127.0.0.1", port: port).get()
        let socket = RawWebSocket(channel: channel, collector: collector)
        try await socket.write(Array((
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: \(upgrade)\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8) + early)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let head: String? = collector.state.withLock { (state) -> String? in
                let view = state.bytes.readableBytesView
                guard let end = view.firstRange(of: [13, 10, 13, 10]) else { return state.closed ? "connection closed" : nil }
                let head = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
                state.bytes.moveReaderIndex(forwardBy: end.upperBound - view.startIndex)
                return head
            }
            if let head {
                guard head.hasPrefix("HTTP/1.1 101") else { throw UpgradeRefused(head: head) }
                return socket
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw UpgradeRefused(head: "no answer to the upgrade")
    }

    struct UpgradeRefused: Error { let head: String }

    func write(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Closes the client's sending side (TCP half-close).
    func finishWriting() async {
        try? await channel.close(mode: .output)
    }

    /// The next server frame that is not a heartbeat (text or close), `.eof` when the connection
    /// closed, or `nil` when nothing came for `seconds`.
    func reply(within seconds: Double) async throws -> Reply? {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while true {
            let next: Reply? = collector.state.withLock { (state) -> Reply? in
                while let frame = Self.frame(in: &state.bytes) {
                    switch frame.opcode {
                    case 0x1:
                        let text = String(decoding: frame.payload, as: UTF8.self)
                        if text.contains(#""type":"heartbeat""#) { continue }
                        return .text(text)
                    case 0x8: return .close(frame.payload.count >= 2 ? UInt16(frame.payload[0]) << 8 | UInt16(frame.payload[1]) : nil)
                    default: continue
                    }
                }
                return state.closed ? .eof : nil
            }
            if let next { return next }
            if ContinuousClock.now >= deadline { return nil }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// One whole unmasked server frame from `buffer`.
    static func frame(in buffer: inout ByteBuffer) -> (opcode: UInt8, payload: [UInt8])? {
        let bytes = Array(buffer.readableBytesView)
        guard bytes.count >= 2 else { return nil }
        var length = Int(bytes[1] & 0x7F)
        var header = 2
        if length == 126 {
            guard bytes.count >= 4 else { return nil }
            length = Int(bytes[2]) << 8 | Int(bytes[3])
            header = 4
        } else if length == 127 {
            guard bytes.count >= 10 else { return nil }
            length = bytes[2..<10].reduce(0) { $0 << 8 | Int($1) }
            header = 10
        }
        guard bytes.count >= header + length else { return nil }
        buffer.moveReaderIndex(forwardBy: header + length)
        return (bytes[0] & 0x0F, Array(bytes[header..<(header + length)]))
    }

    /// A client frame: masked unless `masked` is false, with the header bits given.
    static func frame(
        opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, masked: Bool = true, claimedLength: UInt64? = nil,
        mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
    ) -> [UInt8] {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | (rsv & 0x7) << 4 | opcode & 0x0F]
        let length = claimedLength ?? UInt64(payload.count)
        let maskBit: UInt8 = masked ? 0x80 : 0
        if length < 126 {
            frame.append(maskBit | UInt8(length))
        } else if length <= 0xFFFF {
            frame.append(maskBit | 126)
            frame += [UInt8(length >> 8), UInt8(length & 0xFF)]
        } else {
            frame.append(maskBit | 127)
            frame += (0..<8).reversed().map { UInt8((length >> (8 * UInt64($0))) & 0xFF) }
        }
        guard masked else { return frame + payload }
        return frame + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }
}

/// Seeded fuzzing of `/v1/ws` at the protocol level: broken frames, oversized frames and
/// messages, garbage bytes and garbage JSON. Each must get a clear error frame or a close, the
/// gateway must keep serving, and no publish it acknowledged may be lost.
@Suite struct WebSocketFuzzTests {
    /// The seeded generator: the same seed sends the same cases.
    typealias Generator = SplitMix64

    /// What a case sends, and what the server must do about it.
    enum Expectation: String {
        /// An error frame, and the connection stays usable.
        case errorFrame
        /// The connection is closed (a close frame, or the TCP connection ends).
        case closed
        /// Either; garbage whose meaning depends on where the bytes fall.
        case errorOrClose
    }

    static let maxMessage = 4096
    static let maxFrame = 8192

    static func publishFrame(_ n: Int) -> [UInt8] {
        RawWebSocket.frame(opcode: 0x1, Array(#"{"type":"publish","channel":"fuzz:accepted","data":{"n":\#(n)},"id":\#(n)}"#.utf8))
    }

    /// One fuzz case: the bytes, and what must follow.
    static func makeCase(_ random: inout Generator) -> (name: String, bytes: [UInt8], expect: Expectation) {
        func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) } }
        let json = [
            #"{"type":"publish","channel":"fuzz:x","data":"#, #"{"type":"subscribe","patterns":[1,2]}"#, #"{"type":null}"#,
            #"{"type":"publish","channel":"fuzz:x","data":{"a":[[[[[[[[[[[[]]]]]]]]]]]]}}"#, #"{"type":"subscribe","patterns":["fuzz:*"],"resume":{"fuzz:a":"x"}}"#,
            #"{"type":"publish","channel":"fuzz:x","data":{},"metadata":[]}"#, #"{"type":"publish","channel":"fuzz:x","data":{},"event_id":1}"#,
            #"{"type":"unsubscribe","patterns":"fuzz:*"}"#, #"{"type":"publish","channel":"fuzz:x","data":{},"id":{"a":1}}"#,
        ]
        switch Int.random(in: 0..<16, using: &random) {
        case 0:
            var text = Array(json.randomElement(using: &random)!.utf8)
            for _ in 0..<Int.random(in: 1...3, using: &random) where !text.isEmpty {
                text[Int.random(in: 0..<text.count, using: &random)] = UInt8.random(in: 0x20...0x7E, using: &random)
            }
            return ("mutated JSON", RawWebSocket.frame(opcode: 0x1, text), .errorOrClose)
        case 1: return ("random text payload", RawWebSocket.frame(opcode: 0x1, bytes(Int.random(in: 0..<300, using: &random))), .errorOrClose)
        case 2: return ("binary frame", RawWebSocket.frame(opcode: 0x2, bytes(Int.random(in: 0..<64, using: &random))), .errorFrame)
        case 3: return ("unmasked frame", RawWebSocket.frame(opcode: 0x1, Array("{}".utf8), masked: false), .closed)
        case 4: return ("reserved bits", RawWebSocket.frame(opcode: 0x1, Array("{}".utf8), rsv: UInt8.random(in: 1...7, using: &random)), .closed)
        case 5:
            let opcode = [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF].randomElement(using: &random)!
            return ("reserved opcode \(opcode)", RawWebSocket.frame(opcode: UInt8(opcode), bytes(4)), .closed)
        case 6: return ("control frame over 125 bytes", RawWebSocket.frame(opcode: 0x9, bytes(126 + Int.random(in: 0..<200, using: &random))), .closed)
        case 7: return ("fragmented ping", RawWebSocket.frame(opcode: 0x9, bytes(4), fin: false), .closed)
        case 8: return ("continuation without a start", RawWebSocket.frame(opcode: 0x0, Array("{}".utf8)), .closed)
        case 9:
            return (
                "new message inside a fragmented one",
                RawWebSocket.frame(opcode: 0x1, Array("{\"ty".utf8), fin: false) + RawWebSocket.frame(opcode: 0x1, Array("{}".utf8)), .closed)
        case 10: return ("frame over the frame limit", RawWebSocket.frame(opcode: 0x1, Array(repeating: 0x20, count: maxFrame + 1 + Int.random(in: 0..<512, using: &random))), .closed)
        case 11:
            return ("frame claiming 2^63 bytes", RawWebSocket.frame(opcode: 0x1, bytes(8), claimedLength: UInt64(1) << 63), .closed)
        case 12:
            let part = maxFrame / 2
            let fragments = maxMessage / part + 2
            var frames: [UInt8] = []
            for index in 0..<fragments {
                frames += RawWebSocket.frame(opcode: index == 0 ? 0x1 : 0x0, Array(repeating: 0x20, count: part), fin: index == fragments - 1)
            }
            return ("message over the message limit in fragments", frames, .errorFrame)
        case 13:
            let code = [0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 65535].randomElement(using: &random)!
            return ("close with code \(code)", RawWebSocket.frame(opcode: 0x8, [UInt8(code >> 8), UInt8(code & 0xFF)] + bytes(3)), .closed)
        case 14: return ("close with a 1-byte body", RawWebSocket.frame(opcode: 0x8, [0x03]), .closed)
        default:
            return ("garbage bytes", bytes(Int.random(in: 1..<200, using: &random)), .errorOrClose)
        }
    }

    /// Found by the fuzzer: a continuation frame without a message, or a new message inside a
    /// fragmented one, was taken as a message of its own; RFC 6455 5.4 makes both protocol errors.
    @Test func fragmentsOutOfOrderCloseTheConnectionWithProtocolError() async throws {
        let gateway = try TestGateway(allowsUnknownChannels: true)
        try await gateway.live { client in
            let port = try #require(client.port)
            let cases: [(String, [UInt8])] = [
                ("continuation without a start", RawWebSocket.frame(opcode: 0x0, Array(#"{"type":"subscribe","patterns":["a"]}"#.utf8))),
                ("new message inside a fragmented one",
                 RawWebSocket.frame(opcode: 0x1, Array(#"{"type":"#.utf8), fin: false)
                    + RawWebSocket.frame(opcode: 0x1, Array(#"{"type":"subscribe","patterns":["a"]}"#.utf8))),
            ]
            for (name, bytes) in cases {
                let socket = try await RawWebSocket.connect(port: port)
                try await socket.write(bytes)
                let reply = try await socket.reply(within: 30)
                #expect(reply == .close(1002), "\(name): \(String(describing: reply))")
                try? await socket.channel.close()
            }
            // A message in fragments, in order, is still one message.
            let socket = try await RawWebSocket.connect(port: port)
            try await socket.write(
                RawWebSocket.frame(opcode: 0x1, Array(#"{"type":"subscribe","#.utf8), fin: false)
                    + RawWebSocket.frame(opcode: 0x0, Array(#""patterns":["a"],"id":1}"#.utf8)))
            guard case .text(let text)? = try await socket.reply(within: 30) else { Issue.record("no reply to a fragmented message"); return }
            #expect(text.contains(#""type":"subscribed""#), "\(text)")
            try? await socket.channel.close()
        }
    }

    /// RFC 6455 5.1: a server closes the connection when a client frame is not masked, whether the
    /// frame comes after a masked one or in the same packet as the upgrade request; the frame's
    /// publish is not stored.
    @Test func anUnmaskedClientFrameClosesTheConnectionWithProtocolError() async throws {
        let gateway = try TestGateway(allowsUnknownChannels: true)
        let router = gateway.router
        try await gateway.live { client in
            let port = try #require(client.port)
            let unmasked = RawWebSocket.frame(
                opcode: 0x1, Array(#"{"type":"publish","channel":"mask:unmasked","data":{"n":1},"id":1}"#.utf8), masked: false)

            let socket = try await RawWebSocket.connect(port: port)
            try await socket.write(RawWebSocket.frame(opcode: 0x1, Array(#"{"type":"publish","channel":"mask:masked","data":{"n":1},"id":1}"#.utf8)))
            guard case .text(let text)? = try await socket.reply(within: 30) else { Issue.record("no reply to a masked publish"); return }
            #expect(text.contains(#""type":"published""#), "\(text)")
            try await socket.write(unmasked)
            let reply = try await socket.reply(within: 30)
            #expect(reply == .close(1002), "\(String(describing: reply))")
            try? await socket.channel.close()

            let early = try await RawWebSocket.connect(port: port, early: unmasked)
            let earlyReply = try await early.reply(within: 30)
            #expect(earlyReply == .close(1002), "\(String(describing: earlyReply))")
            try? await early.channel.close()

            // NIO upgrades when any token of the Upgrade header is websocket: the check applies then too.
            let listed = try await RawWebSocket.connect(port: port, upgrade: "h2c, WebSocket")
            try await listed.write(unmasked)
            let listedReply = try await listed.reply(within: 30)
            #expect(listedReply == .close(1002), "\(String(describing: listedReply))")
            try? await listed.channel.close()
        }
        #expect(try await router.replay(try ChannelPattern("mask:unmasked")).isEmpty, "an unmasked frame's publish is not stored")
        #expect(try await router.replay(try ChannelPattern("mask:masked")).count == 1)
    }

    @Test func brokenFramesGetAnErrorOrACloseAndAcceptedPublishesSurvive() async throws {
        let gateway = try TestGateway(
            allowsUnknownChannels: true, webSocket: WebSocketConfiguration(maxInboundMessageBytes: Self.maxMessage, maxFrameBytes: Self.maxFrame))
        let router = gateway.router
        try await gateway.live(seconds: 240 * (Int(ProcessInfo.processInfo.environment["SWITCHYARD_FUZZ_SCALE"] ?? "") ?? 1)) { client in
            let port = try #require(client.port)
            let environment = ProcessInfo.processInfo.environment
            var random = Generator(seed: UInt64(environment["SWITCHYARD_FUZZ_SEED"] ?? "") ?? 0xF0_22_5EED)
            let rounds = 240 * (Int(environment["SWITCHYARD_FUZZ_SCALE"] ?? "") ?? 1)
            var acked: [Int: Int64] = [:]
            var outcomes: [String: Int] = [:]
            var published = 0
            for round in 0..<rounds {
                let (name, bytes, expect) = Self.makeCase(&random)
                let socket = try await RawWebSocket.connect(port: port)
                // An accepted publish before the garbage: it must be stored whatever happens next.
                published += 1
                let before = published
                try await socket.write(Self.publishFrame(before))
                let first = try await socket.reply(within: 30)
                guard case .text(let text) = first, let reply = try? JSONValue(parsing: Array(text.utf8)), reply["type"] == "published",
                      let sequence = reply["sequence_number"].flatMap({ if case .int(let n) = $0 { n } else { nil } }) else {
                    Issue.record("round \(round): the publish before '\(name)' got \(first)")
                    continue
                }
                acked[before] = sequence

                // The garbage, then a probe publish: the reply tells whether the connection survived.
                try? await socket.write(bytes)
                published += 1
                let probe = published
                try? await socket.write(Self.publishFrame(probe))
                var sawError = false
                var closed = false
                var probeAcked = false
                readLoop: while true {
                    let next = try await socket.reply(within: 1)
                    switch next {
                    case .text(let text)?:
                        let frame = try? JSONValue(parsing: Array(text.utf8))
                        if frame?["type"] == "error" {
                            #expect(frame?["error"]?["error_type"]?.stringValue?.isEmpty == false, "round \(round) \(name): \(text)")
                            #expect(frame?["error"]?["message"]?.stringValue?.isEmpty == false, "round \(round) \(name): \(text)")
                            sawError = true
                        } else if frame?["type"] == "published", frame?["id"] == .int(Int64(probe)),
                                  case .int(let sequence)? = frame?["sequence_number"] {
                            acked[probe] = sequence
                            probeAcked = true
                            break readLoop
                        }
                    case .close?, .eof?:
                        closed = true
                        break readLoop
                    case nil:
                        // Nothing for a while: the bytes left a frame half-read. The client gives
                        // up and closes its side; the server must then close too.
                        await socket.finishWriting()
                        var ended = false
                        while let reply = try await socket.reply(within: 20) {
                            if reply == .eof { ended = true; break }
                            if case .close = reply { ended = true; break }
                        }
                        #expect(ended, "round \(round) \(name): the server neither answered nor closed after the client closed its side")
                        closed = true
                        break readLoop
                    }
                }
                switch expect {
                case .errorFrame:
                    #expect(sawError && probeAcked, "round \(round) \(name): error \(sawError), still usable \(probeAcked)")
                case .closed:
                    #expect(closed, "round \(round) \(name): the connection stayed open")
                case .errorOrClose:
                    #expect(sawError || closed || probeAcked, "round \(round) \(name)")
                }
                outcomes["\(name.split(separator: " ").prefix(3).joined(separator: " ")): \(probeAcked ? "usable" : closed ? "closed" : "open")", default: 0] += 1
                try? await socket.channel.close()
            }
            print("WebSocket fuzz outcomes: \(outcomes.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: "; "))")

            // Every acknowledged publish is stored, once, with its own payload.
            let stored = try await router.replay(try ChannelPattern("fuzz:accepted"), limit: 10_000)
            let bySequence = Dictionary(stored.map { ($0.sequenceNumber, $0) }, uniquingKeysWith: { first, _ in first })
            #expect(bySequence.count == stored.count, "no sequence number stored twice")
            for (n, sequence) in acked.sorted(by: { $0.key < $1.key }) {
                #expect(bySequence[sequence]?.data["n"] == .int(Int64(n)), "acknowledged publish \(n) (sequence \(sequence)) is stored")
            }
            #expect(acked.count > rounds, "most probes were acknowledged too")

            // And the gateway still serves a well-behaved client.
            let socket = try await RawWebSocket.connect(port: port)
            try await socket.write(Self.publishFrame(0))
            guard case .text(let text)? = try await socket.reply(within: 30) else { Issue.record("no reply after the fuzz"); return }
            #expect(text.contains(#""type":"published""#))
            try? await socket.channel.close()
        }
    }
}
