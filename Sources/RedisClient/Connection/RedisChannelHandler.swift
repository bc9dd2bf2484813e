import Logging
import NIOCore
import RESP

/// A reply the handler waits for: one command's, or one element of a pipelined batch.
enum RedisPendingReply {
    case single(UnsafeContinuation<RESPValue, any Error>)
    case batch(RedisReplyBatch)

    func succeed(_ value: RESPValue) {
        switch self {
        case .single(let continuation): continuation.resume(returning: value)
        case .batch(let batch): batch.append(value)
        }
    }

    func fail(_ error: RedisError) {
        switch self {
        case .single(let continuation): continuation.resume(throwing: error)
        case .batch(let batch): batch.fail(error)
        }
    }
}

/// Collects the replies of a pipeline; lives on the connection's event loop.
final class RedisReplyBatch {
    private var values: [RESPValue]
    private let expected: Int
    private var continuation: UnsafeContinuation<[RESPValue], any Error>?

    init(expected: Int, continuation: UnsafeContinuation<[RESPValue], any Error>) {
        self.values = []
        self.values.reserveCapacity(expected)
        self.expected = expected
        self.continuation = continuation
    }

    func append(_ value: RESPValue) {
        self.values.append(value)
        if self.values.count == self.expected {
            self.continuation?.resume(returning: self.values)
            self.continuation = nil
        }
    }

    func fail(_ error: RedisError) {
        self.continuation?.resume(throwing: error)
        self.continuation = nil
    }
}

/// The thin channel handler of a connection: decodes replies and carries out the actions of
/// ``RedisConnectionStateMachine``. Every method runs on the channel's event loop.
final class RedisChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var processor: NIOSingleStepByteToMessageProcessor<RESPValueDecoder>
    private var stateMachine = RedisConnectionStateMachine<RedisPendingReply>()
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    private var flushScheduled = false
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let onPush: (@Sendable (RESPValue) -> Void)?
    /// Whether a `READONLY` reply closes the connection: under Sentinel, the server it reached was
    /// the primary and has been demoted, so the pool and the subscriber reconnect to the new one.
    private let closesOnReadOnly: Bool

    init(eventLoop: any EventLoop, logger: Logger, closesOnReadOnly: Bool = false, onPush: (@Sendable (RESPValue) -> Void)?) {
        self.eventLoop = eventLoop
        self.logger = logger
        self.closesOnReadOnly = closesOnReadOnly
        self.onPush = onPush
        self.processor = NIOSingleStepByteToMessageProcessor(RESPValueDecoder(), maximumBufferSize: nil)
    }

    var isSubscriberMode: Bool {
        get { self.stateMachine.isSubscriberMode }
        set { self.stateMachine.isSubscriberMode = newValue }
    }

    // MARK: writes

    /// Writes a request with one reply; flushes now when nothing else is in flight, else once per loop tick.
    func send(_ request: RESPEncodedRequest, reply: RedisPendingReply, deadline: NIODeadline) {
        switch self.stateMachine.enqueue(reply, deadline: deadline) {
        case .fail(let error):
            reply.fail(error)
        case .write:
            self.write(request)
            self.armTimer(deadline)
            if self.stateMachine.inFlight == 1 {
                self.context?.flush()
            } else {
                self.scheduleFlush()
            }
        }
    }

    /// Writes a request of `count` commands whose replies `batch` collects, and flushes once.
    func send(_ request: RESPEncodedRequest, batch: RedisReplyBatch, count: Int, deadline: NIODeadline) {
        if case .fail(let error) = self.stateMachine.enqueue(.batch(batch), count: count, deadline: deadline) {
            batch.fail(error)
            return
        }
        self.write(request)
        self.armTimer(deadline)
        self.context?.flush()
    }

    /// Writes a subscribe command, answered by `confirmations` pushes or by one error reply.
    func send(_ request: RESPEncodedRequest, reply: RedisPendingReply, confirmations: Int, deadline: NIODeadline) {
        switch self.stateMachine.enqueue(reply, count: confirmations, deadline: deadline, confirmations: true) {
        case .fail(let error):
            reply.fail(error)
        case .write:
            self.write(request)
            self.armTimer(deadline)
            self.context?.flush()
        }
    }

    /// Writes bytes whose replies arrive as pushes (UNSUBSCRIBE and friends).
    func sendWithoutReply(_ request: RESPEncodedRequest) {
        guard case .active = self.stateMachine.state else { return }
        self.write(request)
        self.context?.flush()
    }

    private func write(_ request: RESPEncodedRequest) {
        guard let context = self.context else { return }
        for part in request.parts {
            context.write(self.wrapOutboundOut(part), promise: nil)
        }
    }

    private func scheduleFlush() {
        guard !self.flushScheduled else { return }
        self.flushScheduled = true
        self.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            self.context?.flush()
        }
    }

    private func armTimer(_ deadline: NIODeadline) {
        guard self.timer == nil else { return }
        self.timer = self.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.timer = nil
            switch self.stateMachine.timerFired(now: .now()) {
            case .none:
                break
            case .rearm(let next):
                self.armTimer(next)
            case .closeAndFail(let error, let pending):
                self.logger.debug("redis command timed out; closing the connection")
                self.failAll(pending, error)
                self.context?.close(promise: nil)
            }
        }
    }

    // MARK: channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.closeAndFail(RedisError(.connectionClosed))
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        do {
            try self.processor.process(buffer: buffer) { value in
                self.handle(value)
            }
        } catch {
            self.logger.debug("redis protocol error; closing the connection", metadata: ["error": "\(error)"])
            self.closeAndFail(RedisError(.protocolError, underlying: error))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closeAndFail(RedisError(.connectionClosed))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.closeAndFail(RedisError(.connectionClosed, underlying: error))
        context.close(promise: nil)
    }

    private func handle(_ value: RESPValue) {
        if self.closesOnReadOnly, value.errorMessage?.hasPrefix("READONLY") == true {
            self.logger.info("redis server is no longer the primary (READONLY); closing the connection")
            defer { self.context?.close(promise: nil) }
            self.dispatch(value)
            return
        }
        self.dispatch(value)
    }

    private func dispatch(_ value: RESPValue) {
        switch self.stateMachine.received(value) {
        case .deliver(let pending, let value):
            pending.succeed(value)
        case .push(let value):
            self.onPush?(value)
        case .closeAndFail(let error, let pending):
            self.failAll(pending, error)
            self.context?.close(promise: nil)
        }
    }

    private func closeAndFail(_ error: RedisError) {
        self.timer?.cancel()
        self.timer = nil
        self.failAll(self.stateMachine.close(with: error), error)
    }

    private func failAll(_ pending: [RedisPendingReply], _ error: RedisError) {
        for reply in pending { reply.fail(error) }
    }
}
