import RedisTestSupport
import NIOCore
import NIOPosix
import RESP
import RedisClient
import Synchronization
import Testing

/// A fake server without `HELLO`, as Redis before 6: it decodes commands with `RESPValueDecoder`
/// and records them.
final class LegacyServer: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let commands = Mutex<[[String]]>([])
    private let processor = Mutex(NIOSingleStepByteToMessageProcessor(RESPValueDecoder(), maximumBufferSize: nil))

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        var replies: [String] = []
        try? self.processor.withLock { processor in
            try processor.process(buffer: buffer) { value in
                let words = value.elements?.compactMap(\.string) ?? []
                self.commands.withLock { $0.append(words) }
                switch words.first?.uppercased() {
                case "HELLO": replies.append("-ERR unknown command 'HELLO'\r\n")
                case "PING": replies.append("+PONG\r\n")
                default: replies.append("+OK\r\n")
                }
            }
        }
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: replies.joined())), promise: nil)
    }
}

@Suite(.timeLimit(.minutes(10))) struct HandshakeFallbackTests {
    @Test func serverWithoutHELLOGetsRESP2AuthNameAndSelect() async throws {
        let legacy = LegacyServer()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(legacy) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { server.close(promise: nil) }
        var configuration = RedisConfiguration(host: "127.0.0.1", port: server.localAddress!.port!)
        configuration.username = "app"
        configuration.password = "pw"
        configuration.clientName = "legacy"
        configuration.database = 5
        let connection = try await RedisConnection.connect(configuration: configuration, logger: CapturedLogs().logger())
        #expect(await connection.protocolVersion == 2)
        #expect(try await connection.execute(PING()) == "PONG")
        await connection.close()
        #expect(
            legacy.commands.withLock { $0 } == [
                ["HELLO", "3", "AUTH", "app", "pw", "SETNAME", "legacy"],
                ["AUTH", "app", "pw"],
                ["CLIENT", "SETNAME", "legacy"],
                ["SELECT", "5"],
                ["PING"],
            ]
        )
    }
}
