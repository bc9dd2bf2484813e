/// How `/v1/ws` sessions run: their outbound queue, heartbeats and inbound limits.
public struct WebSocketConfiguration: Sendable {
    /// Frames a connection may have waiting to be sent before it overflows; default 1,024.
    ///
    /// On overflow, conflatable channels keep only their latest waiting event; when that does not
    /// make room, the connection is closed with ``WebSocketCloseCode/slowConsumer`` so the client
    /// resumes from the last sequence numbers it saw.
    public var queueLimit: Int
    /// How often an idle connection is sent `{"type":"heartbeat"}`; default 15 seconds.
    public var heartbeatInterval: Duration
    /// The largest client message (all its frames); a larger one is answered with a
    /// `payload_too_large` error frame and the connection stays open. Default 1 MiB plus 64 KiB.
    public var maxInboundMessageBytes: Int
    /// The largest single WebSocket frame either side may send; a larger inbound frame closes the
    /// connection with 1009 (message too big). It also bounds outbound frames, so it must hold the
    /// largest envelope. Default 4 MiB.
    public var maxFrameBytes: Int
    /// The most channel patterns one session may be subscribed to at once; a `subscribe` that would
    /// pass it is answered with a `limit_exceeded` error frame and changes nothing. Every pattern is
    /// live work on the engine (on Redis, a `PSUBSCRIBE` matched against every publish), and a
    /// dashboard needs a handful. Default 100.
    public var maxPatternsPerSession: Int
    /// The most sessions one caller may have open at once: a principal's subject, or, for anonymous
    /// access, the peer's IP address. The session past it gets a `limit_exceeded` error frame and
    /// is closed with ``WebSocketCloseCode/policyViolation``. Default 32: a trader's tabs and
    /// services, far below what it takes to exhaust the gateway's file descriptors.
    public var maxSessionsPerPrincipal: Int

    /// Creates a configuration; every parameter has the default documented on its property.
    public init(
        queueLimit: Int = 1024, heartbeatInterval: Duration = .seconds(15),
        maxInboundMessageBytes: Int = 1_114_112, maxFrameBytes: Int = 4 << 20,
        maxPatternsPerSession: Int = 100, maxSessionsPerPrincipal: Int = 32
    ) {
        self.maxPatternsPerSession = maxPatternsPerSession
        self.maxSessionsPerPrincipal = maxSessionsPerPrincipal
        self.queueLimit = queueLimit
        self.heartbeatInterval = heartbeatInterval
        self.maxInboundMessageBytes = maxInboundMessageBytes
        self.maxFrameBytes = maxFrameBytes
    }
}

/// The close codes `/v1/ws` uses besides the standard ones (1000 normal, 1001 going away, 1009
/// message too big, 1011 server error).
public enum WebSocketCloseCode {
    /// 4008: the client did not read fast enough and a lossless channel's event could not be
    /// queued. Reconnect and resume from the last sequence number seen per channel.
    public static let slowConsumer: UInt16 = 4008
    /// 1001: the gateway is shutting down, or the engine's live feed ended; reconnect and resume.
    public static let goingAway: UInt16 = 1001
    /// 1011: the engine failed while serving the subscription; reconnect and resume.
    public static let serverError: UInt16 = 1011
    /// 1008: the caller has ``WebSocketConfiguration/maxSessionsPerPrincipal`` sessions open
    /// already; close one before opening another.
    public static let policyViolation: UInt16 = 1008
}
