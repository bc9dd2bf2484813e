import Logging
import NIOCore
import NIOPosix
import NIOSSL
import RESP

/// One connection to a Redis server: an actor that runs on its channel's event loop, so sending a
/// command and receiving its reply need no hop between executor and loop.
///
/// Commands from many tasks may be in flight at once; replies are matched in order. A command in
/// flight when the connection drops fails with a retryable ``RedisError`` and is never resent.
public actor RedisConnection {
    /// A number that identifies the connection in logs.
    public nonisolated let id: Int
    nonisolated let channel: any Channel
    nonisolated let handler: NIOLoopBound<RedisChannelHandler>
    nonisolated let configuration: RedisConfiguration
    nonisolated let metrics: RedisMetrics
    nonisolated let loopExecutor: RedisEventLoopTaskExecutor
    let logger: Logger
    /// The protocol agreed with the server: 3 after `HELLO 3`, otherwise 2.
    public private(set) var protocolVersion = 2

    /// The connection's event loop, which is also its executor.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        self.channel.eventLoop.executor.asUnownedSerialExecutor()
    }

    init(
        id: Int,
        channel: any Channel,
        handler: NIOLoopBound<RedisChannelHandler>,
        configuration: RedisConfiguration,
        metrics: RedisMetrics,
        logger: Logger
    ) {
        self.id = id
        self.channel = channel
        self.handler = handler
        self.configuration = configuration
        self.metrics = metrics
        self.loopExecutor = RedisEventLoopTaskExecutor(eventLoop: channel.eventLoop)
        var logger = logger
        logger[metadataKey: "redis.connection"] = "\(id)"
        self.logger = logger
    }

    /// Opens a connection, negotiates the protocol, authenticates and selects the database.
    ///
    /// - Parameters:
    ///   - configuration: where and how to connect.
    ///   - eventLoop: the loop the connection runs on.
    ///   - logger: where the connection logs.
    /// - Throws: ``RedisError`` with ``RedisError/Code/connectionFailed``, ``RedisError/Code/tlsFailure``
    ///   or ``RedisError/Code/authenticationFailed``.
    public static func connect(
        configuration: RedisConfiguration,
        eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any(),
        logger: Logger
    ) async throws -> RedisConnection {
        let tlsContext = try RedisConnectionFactory.makeTLSContext(configuration.tls)
        return try await RedisConnectionFactory(
            configuration: configuration,
            tlsContext: tlsContext,
            metrics: .standalone,
            logger: logger
        ).connect(on: eventLoop, onPush: nil)
    }

    /// The connection's event loop as a task executor.
    ///
    /// Run a hot loop under `withTaskExecutorPreference(connection.taskExecutor) { ... }` (or in a
    /// function `isolated` to the connection) and its commands cost no thread hop at all.
    public nonisolated var taskExecutor: any TaskExecutor { self.loopExecutor }

    /// Whether the connection has closed.
    public nonisolated var isClosed: Bool { !self.channel.isActive }

    /// Sends a command and returns its typed reply.
    ///
    /// - Throws: ``RedisError``: ``RedisError/Code/serverError`` for an error reply (its prefix in
    ///   ``RedisError/serverErrorPrefix``), ``RedisError/Code/connectionClosed`` or
    ///   ``RedisError/Code/timeout`` when the connection failed, ``RedisError/Code/unexpectedResponse``
    ///   for a reply of the wrong shape.
    public func execute<Command: RedisCommand>(_ command: Command) async throws -> Command.Response {
        var encoder = self.makeEncoder()
        command.encode(into: &encoder)
        let start = NIODeadline.now()
        do {
            let value = try await self.send(encoder.finish(), deadline: self.deadline(blocking: command.blockingTimeout))
            let response = try command.checkedResponse(value)
            self.metrics.recordCommands(1, since: start)
            return response
        } catch {
            self.metrics.recordCommandFailure(error, since: start)
            throw error
        }
    }

    /// Closes the connection; commands in flight fail with ``RedisError/Code/connectionClosed``.
    public func close() async {
        self.channel.close(mode: .all, promise: nil)
        try? await self.channel.closeFuture.get()
    }

    /// Waits until the connection has closed.
    func waitForClose() async {
        try? await self.channel.closeFuture.get()
    }

    // MARK: internals shared by pipelines, transactions and subscriptions

    nonisolated func deadline(blocking: Duration?) -> NIODeadline {
        var timeout = TimeAmount(self.configuration.commandTimeout)
        if let blocking { timeout = timeout + TimeAmount(blocking) }
        return .now() + timeout
    }

    func send(_ request: RESPEncodedRequest, deadline: NIODeadline) async throws -> RESPValue {
        try await withTaskExecutorPreference(self.loopExecutor, isolation: self) {
            try await withUnsafeThrowingContinuation(isolation: self) { continuation in
                self.handler.value.send(request, reply: .single(continuation), deadline: deadline)
            }
        }
    }

    func send(_ request: RESPEncodedRequest, count: Int, deadline: NIODeadline) async throws -> [RESPValue] {
        guard count > 0 else { return [] }
        return try await withTaskExecutorPreference(self.loopExecutor, isolation: self) {
            try await withUnsafeThrowingContinuation(isolation: self) { continuation in
                let batch = RedisReplyBatch(expected: count, continuation: continuation)
                self.handler.value.send(request, batch: batch, count: count, deadline: deadline)
            }
        }
    }

    /// Sends a subscribe command and waits for its last confirmation, or its error reply.
    func sendSubscribe(_ request: RESPEncodedRequest, confirmations: Int) async throws -> RESPValue {
        let deadline = self.deadline(blocking: nil)
        return try await withTaskExecutorPreference(self.loopExecutor, isolation: self) {
            try await withUnsafeThrowingContinuation(isolation: self) { continuation in
                self.handler.value.send(request, reply: .single(continuation), confirmations: confirmations, deadline: deadline)
            }
        }
    }

    func sendWithoutReply(_ request: RESPEncodedRequest) {
        self.handler.value.sendWithoutReply(request)
    }

    func setSubscriberMode(_ on: Bool) {
        self.handler.value.isSubscriberMode = on
    }

    func setProtocolVersion(_ version: Int) {
        self.protocolVersion = version
    }

    nonisolated func makeEncoder() -> RESPCommandEncoder {
        RESPCommandEncoder(allocator: self.channel.allocator)
    }
}
