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
    /// Nodes learnt from a cluster's slot map, tried after the configured ones.
    var knownNodes = RedisKnownNodes()
    /// Whether `connect` tries ``RedisConfiguration/seeds`` and the known nodes when the
    /// configured server does not answer; off for a pool pinned to one cluster node.
    var triesOtherNodes = true
    /// Whether each new connection sends `READONLY` after the handshake: a cluster replica then
    /// serves reads of its primary's slots.
    var readsFromReplica = false

    /// The same factory, connecting to `configuration`'s server only.
    func pinned(to configuration: RedisConfiguration) -> RedisConnectionFactory {
        var factory = RedisConnectionFactory(configuration: configuration, tlsContext: self.tlsContext, metrics: self.metrics, logger: self.logger)
        factory.knownNodes = self.knownNodes
        factory.triesOtherNodes = false
        return factory
    }

    private static let nextID = Atomic<Int>(1)

    static func makeTLSContext(_ tls: RedisConfiguration.TLS) throws -> NIOSSLContext? {
        guard case .require(let configuration, _) = tls.base else { return nil }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw RedisError(.tlsFailure, underlying: error)
        }
    }

    /// Opens a connection to the server: the configured one, or under Sentinel the primary the
    /// Sentinels name now, checked with `ROLE` (unless the ACL user may not run it).
    func connect(on eventLoop: any EventLoop, onPush: (@Sendable (RESPValue) -> Void)?) async throws -> RedisConnection {
        guard let sentinel = self.configuration.sentinel else {
            return try await self.openFirstAnswering(on: eventLoop, onPush: onPush)
        }
        let primary = try await self.askForPrimary(sentinel, on: eventLoop)
        var configuration = self.configuration
        configuration.host = primary.host
        configuration.port = primary.port
        let connection = try await self.open(configuration, on: eventLoop, onPush: onPush, closesOnReadOnly: true)
        do {
            let role: RESPValue
            do {
                role = try await connection.execute(GenericCommand("ROLE"))
            } catch let error as RedisError where error.serverErrorPrefix == "NOPERM" {
                // An ACL user without `ROLE`: trust the Sentinels; a replica would answer writes
                // with READONLY, which closes this connection.
                return connection
            }
            guard let first = role.elements?.first?.string, first == "master" else {
                throw RedisError(
                    .connectionFailed,
                    serverMessage: "\(primary), named primary of \(sentinel.primaryName) by the Sentinels, is a \(role.elements?.first?.string ?? "server of unknown role")")
            }
        } catch {
            await connection.close()
            self.metrics.connectFailed()
            throw error
        }
        return connection
    }

    /// Opens a connection to the configured server or, when it does not answer, to the first of the
    /// seeds and then of the cluster nodes learnt that does.
    private func openFirstAnswering(on eventLoop: any EventLoop, onPush: (@Sendable (RESPValue) -> Void)?) async throws -> RedisConnection {
        do {
            return try await self.open(self.configuration, on: eventLoop, onPush: onPush)
        } catch let error as RedisError where error.code == .connectionFailed && self.triesOtherNodes {
            let configured = RedisConfiguration.Endpoint(host: self.configuration.host, port: self.configuration.port)
            var tried: Set = [configured]
            for endpoint in self.configuration.seeds + self.knownNodes.all where tried.insert(endpoint).inserted {
                var configuration = self.configuration
                configuration.host = endpoint.host
                configuration.port = endpoint.port
                if let connection = try? await self.open(configuration, on: eventLoop, onPush: onPush) { return connection }
            }
            throw error
        }
    }

    /// Opens a connection to one of the Sentinels, the first of them that answers.
    func connectToSentinel(_ sentinel: RedisConfiguration.Sentinel, on eventLoop: any EventLoop, onPush: (@Sendable (RESPValue) -> Void)? = nil) async throws -> RedisConnection {
        var lastError: (any Error)?
        for node in sentinel.nodes {
            do {
                return try await self.open(sentinel: sentinel, node, on: eventLoop, onPush: onPush)
            } catch {
                lastError = error
                self.logger.debug("redis sentinel unreachable", metadata: ["redis.sentinel": "\(node)"])
            }
        }
        throw RedisError(.connectionFailed, serverMessage: "no Sentinel of \(sentinel.primaryName) answered", underlying: lastError)
    }

    /// Opens a connection to one Sentinel, with the Sentinels' credentials.
    private func open(
        sentinel: RedisConfiguration.Sentinel, _ node: RedisConfiguration.Endpoint, on eventLoop: any EventLoop,
        onPush: (@Sendable (RESPValue) -> Void)?
    ) async throws -> RedisConnection {
        var configuration = self.configuration
        configuration.sentinel = nil
        configuration.host = node.host
        configuration.port = node.port
        configuration.username = sentinel.username
        configuration.password = sentinel.password
        configuration.database = 0
        return try await self.open(configuration, on: eventLoop, onPush: onPush)
    }

    /// Asks the Sentinels, in order, where the primary is (`SENTINEL GET-MASTER-ADDR-BY-NAME`).
    private func askForPrimary(_ sentinel: RedisConfiguration.Sentinel, on eventLoop: any EventLoop) async throws -> RedisConfiguration.Endpoint {
        var reasons: [String] = []
        for node in sentinel.nodes {
            do {
                let connection = try await self.open(sentinel: sentinel, node, on: eventLoop, onPush: nil)
                defer { connection.channel.close(mode: .all, promise: nil) }
                let reply = try await connection.execute(GenericCommand("SENTINEL", "GET-MASTER-ADDR-BY-NAME", sentinel.primaryName))
                if let pair = reply.elements, pair.count == 2, let host = pair[0].string, let port = pair[1].string.flatMap({ Int($0) }) {
                    return RedisConfiguration.Endpoint(host: host, port: port)
                }
                reasons.append("\(node) does not monitor \(sentinel.primaryName)")
            } catch {
                reasons.append("\(node): \(error)")
            }
        }
        self.metrics.connectFailed()
        throw RedisError(.connectionFailed, serverMessage: "no Sentinel named the primary of \(sentinel.primaryName) (\(reasons.joined(separator: "; ")))")
    }

    /// Opens a connection to the server `configuration` names (its `sentinel` is not consulted).
    func open(
        _ configuration: RedisConfiguration, on eventLoop: any EventLoop, onPush: (@Sendable (RESPValue) -> Void)?, closesOnReadOnly: Bool = false
    ) async throws -> RedisConnection {
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
                        let handler = RedisChannelHandler(
                            eventLoop: channel.eventLoop, logger: connectionLogger, closesOnReadOnly: closesOnReadOnly, onPush: onPush)
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
            if self.readsFromReplica { _ = try await connection.execute(GenericCommand("READONLY")) }
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
