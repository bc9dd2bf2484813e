import Logging
import NIOCore
import NIOPosix
import NIOSSL
import RESP
import Synchronization

/// Opens connections with one configuration: TCP or TLS, then the handshake.
struct RedisConnectionFactory: Sendable {
    let configuration: RedisConfiguration
    let tlsContext: NIOSSLContext?
    let metrics: RedisMetrics
    let logger: Logger

    private static let nextID = Atomic<Int>(1)

    static func makeTLSContext(_ tls: RedisConfiguration.TLS) throws -> NIOSSLContext? {
        guard case .require(let configuration, _) = tls.base else { return nil }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw RedisError(.tlsFailure, underlying: error)
        }
    }

    func connect(on eventLoop: any EventLoop, onPush: (@Sendable (RESPValue) -> Void)?) async throws -> RedisConnection {
        let configuration = self.configuration
        let id = Self.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        var logger = self.logger
        logger[metadataKey: "redis.connection"] = "\(id)"
        let connectionLogger = logger
        let tlsContext = self.tlsContext
        let serverHostname: String?
        if case .require(_, let name) = configuration.tls.base {
            serverHostname = name ?? (Self.isIPAddress(configuration.host) ? nil : configuration.host)
        } else {
            serverHostname = nil
        }
        let channel: any Channel
        let handler: NIOLoopBound<RedisChannelHandler>
        do {
            (channel, handler) = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(TimeAmount(configuration.connectTimeout))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tlsContext {
                            let ssl = try NIOSSLClientHandler(context: tlsContext, serverHostname: serverHostname)
                            try channel.pipeline.syncOperations.addHandler(ssl)
                        }
                        let handler = RedisChannelHandler(eventLoop: channel.eventLoop, logger: connectionLogger, onPush: onPush)
                        try channel.pipeline.syncOperations.addHandler(handler)
                        return (channel, NIOLoopBound(handler, eventLoop: channel.eventLoop))
                    }
                }
        } catch {
            self.metrics.connectFailed()
            logger.debug("redis connect failed", metadata: ["error": "\(type(of: error))"])
            throw RedisError(.connectionFailed, underlying: error)
        }
        let connection = RedisConnection(
            id: id,
            channel: channel,
            handler: handler,
            configuration: configuration,
            metrics: self.metrics,
            logger: self.logger
        )
        do {
            try await connection.handshake()
        } catch {
            await connection.close()
            self.metrics.connectFailed()
            if let error = error as? RedisError, error.code == .connectionClosed, tlsContext != nil {
                throw RedisError(.tlsFailure, underlying: error)
            }
            throw error
        }
        self.metrics.connectionOpened(channel: channel)
        let version = await connection.protocolVersion
        logger.debug("redis connected", metadata: ["redis.protocol": "\(version)"])
        return connection
    }

    private static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}
