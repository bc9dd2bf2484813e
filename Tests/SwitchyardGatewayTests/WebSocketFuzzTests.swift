import Foundation
import JSONSchema
import NIOCore
import NIOPosix
import RedisTestSupport
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
        var head: String?
        _ = try await eventually(every: .milliseconds(5)) {
            head = collector.state.withLock { (state) -> String? in
                let view = state.bytes.readableBytesView
                guard let end = view.firstRange(of: [13, 10, 13, 10]) else { return state.closed ? "connection closed" : nil }
                let head = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
                state.bytes.moveReaderIndex(forwardBy: end.upperBound - view.startIndex)
                return head
            }
            return head != nil
        }
        guard let head else { throw UpgradeRefused(head: "no answer to the upgrade") }
        guard head.hasPrefix("HTTP/1.1 101") else { throw UpgradeRefused(head: head) }
        return socket
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
        var next: Reply?
        _ = try await eventually(timeout: .milliseconds(Int64(seconds * 1000)), every: .milliseconds(5)) {
            next = collector.state.withLock { (state) -> Reply? in
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
            return next != nil
        }
        return next
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

    /// What the gateway must do with the bytes of a case followed by a probe publish: answer
    /// these error frames, in order, then end like this.
    struct Expectation: Equatable, CustomStringConvertible {
        /// One error frame expected.
        enum Error: Equatable, CustomStringConvertible {
            /// An error frame of this `error_type`.
            case type(String)
            /// A JSON message that parses: whatever the frame means, an error of any type but
            /// `malformed_json`, or none (a `published` or `subscribed` answer).
            case parsedJSON

            var description: String {
                switch self {
                case .type(let type): type
                case .parsedJSON: "any but malformed_json, or none"
                }
            }
        }

        /// How the exchange ends.
        enum End: Equatable {
            /// The session survives: the probe is acknowledged.
            case probeAcked
            /// A close frame with this code.
            case close(UInt16)
            /// Nothing: a frame is left half-read, and the server ends the connection once the
            /// client closes its side.
            case silent
        }

        var errors: [Error] = []
        var end: End
        /// The connection is closed below the session (by NIO's frame decoder or the mask check),
        /// which may not have answered the frames before yet: only the first of ``errors`` may come.
        var closedBelowTheSession = false

        var description: String { "errors \(errors)\(closedBelowTheSession ? " or fewer" : ""), then \(end)" }

        /// Whether the error types seen match ``errors``.
        func matches(errors seen: [String]) -> Bool {
            func match(_ expected: ArraySlice<Error>, _ seen: ArraySlice<String>) -> Bool {
                guard let first = expected.first else { return seen.isEmpty }
                switch first {
                case .type(let type):
                    return seen.first == type && match(expected.dropFirst(), seen.dropFirst())
                case .parsedJSON:
                    if let type = seen.first, type != "malformed_json", match(expected.dropFirst(), seen.dropFirst()) { return true }
                    return match(expected.dropFirst(), seen)
                }
            }
            guard closedBelowTheSession else { return match(errors[...], seen[...]) }
            return (0...errors.count).contains { match(errors.prefix($0), seen[...]) }
        }

        static func close(_ code: UInt16) -> Expectation { Expectation(end: .close(code)) }
        static func error(_ type: String) -> Expectation { Expectation(errors: [.type(type)], end: .probeAcked) }

        /// A text message the session reads as JSON.
        static func json(_ text: [UInt8]) -> Expectation {
            Expectation(errors: [(try? JSONValue(parsing: text)) == nil ? .type("malformed_json") : .parsedJSON], end: .probeAcked)
        }
    }

    /// What the gateway must do with `bytes` followed by `probe` (a masked text frame), read as
    /// its layers read them: NIO's frame decoder (frame and control-frame lengths, answered by a
    /// close with 1009 or 1002), the gateway's mask check (1002), the WebSocket handler (close
    /// frames, pings, reserved bits and opcodes: 1002) and the session (fragments, message size,
    /// binary messages, JSON).
    static func expectation(of bytes: [UInt8], then probe: [UInt8]) -> Expectation {
        let stream = bytes + probe
        var errors: [Expectation.Error] = []
        var offset = 0
        var fragmented = false
        var messageIsText = true
        var message: [UInt8] = []
        var oversized = false
        func integer(_ range: Range<Int>) -> UInt64 { stream[range].reduce(0) { $0 << 8 | UInt64($1) } }
        while true {
            // Every byte read and no probe among the frames: it went into the garbage's last frame.
            guard offset != stream.count else { return Expectation(errors: errors, end: .silent) }
            let frameStart = offset
            guard stream.count - offset >= 2 else { return Expectation(errors: errors, end: .silent) }
            let first = stream[offset]
            let fin = first & 0x80 != 0
            let reserved = first & 0x70
            let opcode = first & 0x0F
            let masked = stream[offset + 1] & 0x80 != 0
            var length = UInt64(stream[offset + 1] & 0x7F)
            var header = 2
            if length == 126 {
                guard stream.count - offset >= 4 else { return Expectation(errors: errors, end: .silent) }
                length = integer(offset + 2..<offset + 4)
                header = 4
            } else if length == 127 {
                guard stream.count - offset >= 10 else { return Expectation(errors: errors, end: .silent) }
                length = integer(offset + 2..<offset + 10)
                header = 10
            }
            if length > UInt64(maxFrame) { return Expectation(errors: errors, end: .close(1009), closedBelowTheSession: true) }
            let isControl = opcode & 0x08 != 0
            if isControl && (!fin || length > 125) { return Expectation(errors: errors, end: .close(1002), closedBelowTheSession: true) }
            let keyLength = masked ? 4 : 0
            guard stream.count - offset >= header + keyLength + Int(length) else { return Expectation(errors: errors, end: .silent) }
            let key = Array(stream[(offset + header)..<(offset + header + keyLength)])
            let payloadStart = offset + header + keyLength
            let payload = stream[payloadStart..<(payloadStart + Int(length))].enumerated().map { masked ? $0.element ^ key[$0.offset % 4] : $0.element }
            offset = payloadStart + Int(length)
            guard masked else { return Expectation(errors: errors, end: .close(1002), closedBelowTheSession: true) }
            switch opcode {
            case 0x8:
                guard reserved == 0 else { return Expectation(errors: errors, end: .close(1002)) }
                guard payload.count >= 2 else { return Expectation(errors: errors, end: .close(payload.isEmpty ? 1000 : 1002)) }
                let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
                let valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011].contains(code) || (3000...4999).contains(code)
                return Expectation(errors: errors, end: .close(valid ? 1000 : 1002))
            case 0x9, 0xA:
                continue
            case 0x0, 0x1, 0x2:
                guard reserved == 0 else { return Expectation(errors: errors, end: .close(1002)) }
                if opcode == 0x0 {
                    guard fragmented else { return Expectation(errors: errors, end: .close(1002)) }
                } else {
                    guard !fragmented else { return Expectation(errors: errors, end: .close(1002)) }
                    message = []
                    messageIsText = opcode == 0x1
                    oversized = false
                }
                fragmented = !fin
                if !oversized {
                    if message.count + payload.count > maxMessage {
                        oversized = true
                        message = []
                    } else {
                        message += payload
                    }
                }
                guard fin else { continue }
                if frameStart == bytes.count, opcode == 0x1, !oversized { return Expectation(errors: errors, end: .probeAcked) }
                if oversized {
                    errors.append(.type("payload_too_large"))
                } else if !messageIsText {
                    errors.append(.type("bad_request"))
                } else {
                    errors += Expectation.json(message).errors
                }
            default:
                return Expectation(errors: errors, end: .close(1002))
            }
        }
    }

    static let maxMessage = 4096
    static let maxFrame = 8192

    static func publishFrame(_ n: Int) -> [UInt8] {
        RawWebSocket.frame(opcode: 0x1, Array(#"{"type":"publish","channel":"fuzz:accepted","data":{"n":\#(n)},"id":\#(n)}"#.utf8))
    }

    /// One fuzz case: the bytes, and what must follow.
    /// `probe` is the frame sent after the case's bytes.
    static func makeCase(_ random: inout Generator, probe: [UInt8]) -> (name: String, bytes: [UInt8], expect: Expectation) {
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
            return ("mutated JSON", RawWebSocket.frame(opcode: 0x1, text), .json(text))
        case 1:
            let text = bytes(Int.random(in: 0..<300, using: &random))
            return ("random text payload", RawWebSocket.frame(opcode: 0x1, text), .json(text))
        case 2: return ("binary frame", RawWebSocket.frame(opcode: 0x2, bytes(Int.random(in: 0..<64, using: &random))), .error("bad_request"))
        case 3: return ("unmasked frame", RawWebSocket.frame(opcode: 0x1, Array("{}".utf8), masked: false), .close(1002))
        case 4: return ("reserved bits", RawWebSocket.frame(opcode: 0x1, Array("{}".utf8), rsv: UInt8.random(in: 1...7, using: &random)), .close(1002))
        case 5:
            let opcode = [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF].randomElement(using: &random)!
            return ("reserved opcode \(opcode)", RawWebSocket.frame(opcode: UInt8(opcode), bytes(4)), .close(1002))
        case 6: return ("control frame over 125 bytes", RawWebSocket.frame(opcode: 0x9, bytes(126 + Int.random(in: 0..<200, using: &random))), .close(1002))
        case 7: return ("fragmented ping", RawWebSocket.frame(opcode: 0x9, bytes(4), fin: false), .close(1002))
        case 8: return ("continuation without a start", RawWebSocket.frame(opcode: 0x0, Array("{}".utf8)), .close(1002))
        case 9:
            return (
                "new message inside a fragmented one",
                RawWebSocket.frame(opcode: 0x1, Array("{\"ty".utf8), fin: false) + RawWebSocket.frame(opcode: 0x1, Array("{}".utf8)), .close(1002))
        case 10: return ("frame over the frame limit", RawWebSocket.frame(opcode: 0x1, Array(repeating: 0x20, count: maxFrame + 1 + Int.random(in: 0..<512, using: &random))), .close(1009))
        case 11:
            return ("frame claiming 2^63 bytes", RawWebSocket.frame(opcode: 0x1, bytes(8), claimedLength: UInt64(1) << 63), .close(1009))
        case 12:
            let part = maxFrame / 2
            let fragments = maxMessage / part + 2
            var frames: [UInt8] = []
            for index in 0..<fragments {
                frames += RawWebSocket.frame(opcode: index == 0 ? 0x1 : 0x0, Array(repeating: 0x20, count: part), fin: index == fragments - 1)
            }
            return ("message over the message limit in fragments", frames, .error("payload_too_large"))
        case 13:
            let code = [0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 65535].randomElement(using: &random)!
            return ("close with code \(code)", RawWebSocket.frame(opcode: 0x8, [UInt8(code >> 8), UInt8(code & 0xFF)] + bytes(3)), .close(1002))
        case 14: return ("close with a 1-byte body", RawWebSocket.frame(opcode: 0x8, [0x03]), .close(1002))
        default:
            // What garbage means depends on where its bytes fall: the expectation reads them as the server does.
            let garbage = bytes(Int.random(in: 1..<200, using: &random))
            return ("garbage bytes", garbage, expectation(of: garbage, then: probe))
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
                let probe = published + 2
                let (name, bytes, expect) = Self.makeCase(&random, probe: Self.publishFrame(probe))
                let socket = try await RawWebSocket.connect(port: port)
                // An accepted publish before the case: it must be stored whatever happens next.
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

                // The case, then a probe publish: the reply tells whether the connection survived.
                try? await socket.write(bytes)
                published += 1
                try? await socket.write(Self.publishFrame(probe))
                var errors: [String] = []
                var end = ""
                readLoop: while true {
                    // Silence is the answer only where a frame is left half-read: wait long for anything else.
                    let next = try await socket.reply(within: expect.end == .silent ? 1 : 30)
                    switch next {
                    case .text(let text)?:
                        let frame = try? JSONValue(parsing: Array(text.utf8))
                        if frame?["type"] == "error" {
                            #expect(frame?["error"]?["message"]?.stringValue?.isEmpty == false, "round \(round) \(name): \(text)")
                            errors.append(frame?["error"]?["error_type"]?.stringValue ?? "")
                        } else if frame?["type"] == "published", frame?["id"] == .int(Int64(probe)),
                                  case .int(let sequence)? = frame?["sequence_number"] {
                            acked[probe] = sequence
                            end = "probe acked"
                            break readLoop
                        }
                    case .close(let code)?:
                        end = "close \(code.map(String.init) ?? "without a code")"
                        break readLoop
                    case .eof?:
                        end = "the connection ended without a close frame"
                        break readLoop
                    case nil:
                        // Nothing for a while: the client gives up and closes its side; the server
                        // must then close too.
                        await socket.finishWriting()
                        var ended = false
                        while let reply = try await socket.reply(within: 20) {
                            if reply == .eof { ended = true; break }
                            if case .close = reply { ended = true; break }
                        }
                        end = ended ? "silent" : "silent, and still open after the client closed its side"
                        break readLoop
                    }
                }
                let wanted: String
                switch expect.end {
                case .probeAcked: wanted = "probe acked"
                case .close(let code): wanted = "close \(code)"
                case .silent: wanted = "silent"
                }
                #expect(end == wanted && expect.matches(errors: errors), "round \(round) \(name): expected \(expect), got errors \(errors), then \(end)")
                outcomes["\(name.split(separator: " ").prefix(3).joined(separator: " ")): \(end)", default: 0] += 1
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
