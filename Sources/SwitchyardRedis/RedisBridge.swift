import Crypto
import JSONSchema
import Logging
import Metrics
import NIOCore
import RedisClient
import ServiceLifecycle
import Switchyard
import Synchronization

/// Stores what unchanged plain-Redis publishers `PUBLISH` as Switchyard events: the migration path
/// of docs/migration.md.
///
/// The bridge `PSUBSCRIBE`s every contract's channel or pattern, and stores each plain JSON message
/// through the ``Switchyard/Router`` (envelope, sequence number, stream, dedup, consumer groups,
/// WebSocket) with the envelope `source` ``Configuration/source``. What it cannot store (not JSON,
/// not an object, a contract violation, an unknown channel, too large) goes to the dead letters,
/// `dlq:{C}` with `group` = the source, the `validation_error` body and the message as it was
/// (``RedisEngine/deadLetters(_:limit:)`` lists it with sequence number 0). Every message is counted
/// in `switchyard_bridge_messages_total{result}`.
///
/// It does not loop: a message on `C` that is an envelope naming `C` is Switchyard's own live
/// message, and so is a payload-mode channel's bare payload (marked by `publish.lua` as
/// `bridge:echo:{C}:SHA1` for 60 s); both are skipped. Several bridges may run: before storing, a
/// bridge claims the message (`SET bridge:claim:{C}:SHA256 1 NX PX` ``Configuration/claimWindow``),
/// so identical bytes on one channel within the window are stored once, whoever publishes them.
///
/// Run it as a service next to the router that holds the engine; the engine's client carries its
/// subscription, and after a reconnect the client subscribes again (messages published while it
/// was away are lost to the bridge, as they are to any Pub/Sub subscriber).
public final class RedisBridge: Service {
    /// The bridge's settings.
    public struct Configuration: Sendable {
        /// The envelope `source` of stored events and the `group` of the bridge's dead letters. Default `bridge`.
        public var source: String
        /// The channels and patterns to subscribe to; `nil` for every contract's. Default `nil`.
        public var patterns: [ChannelPattern]?
        /// How long a claim keeps other bridges (and identical bytes) from storing a message again. Default 5 s.
        public var claimWindow: Duration
        /// The largest message taken; a larger one is refused with `payload_too_large`. Default 1 MB.
        public var maxMessageBytes: Int
        /// How often a rate-limited store is tried again before the message is refused. Default 10.
        public var rateLimitRetries: Int

        /// Creates a configuration.
        public init(
            source: String = "bridge", patterns: [ChannelPattern]? = nil, claimWindow: Duration = .seconds(5),
            maxMessageBytes: Int = ChannelPolicy.defaultMaxSizeBytes, rateLimitRetries: Int = 10
        ) {
            self.source = source
            self.patterns = patterns
            self.claimWindow = claimWindow
            self.maxMessageBytes = maxMessageBytes
            self.rateLimitRetries = rateLimitRetries
        }
    }

    /// What became of one message; the `result` label of `switchyard_bridge_messages_total`.
    public struct Outcome: Sendable, Hashable, CustomStringConvertible {
        /// The label value.
        public let rawValue: String
        /// Stored as a new event.
        public static let stored = Outcome(rawValue: "stored")
        /// Another bridge claimed it first (or the same bytes were stored within the claim window).
        public static let duplicate = Outcome(rawValue: "duplicate")
        /// Dead-lettered: it could not be stored as an event of its channel.
        public static let refused = Outcome(rawValue: "refused")
        /// Switchyard's own live message (an envelope, a companion message or a marked payload).
        public static let skipped = Outcome(rawValue: "skipped")
        /// Redis could not be reached to claim, store or dead-letter it.
        public static let failed = Outcome(rawValue: "failed")
        /// Every outcome.
        public static let all: [Outcome] = [.stored, .duplicate, .refused, .skipped, .failed]
        public var description: String { rawValue }
    }

    /// The pseudo-channel whose dead letters hold messages from a Pub/Sub channel that is not a
    /// valid channel name: `dlq:{switchyard:bridge}`.
    public static let invalidChannelDeadLetters = try! ChannelName("switchyard:bridge")

    let router: Router
    let engine: RedisEngine
    /// The settings.
    public let configuration: Configuration
    let logger: Logger
    private let counters: [Outcome: Counter]
    private let subscribed = Atomic<Bool>(false)

    /// Creates a bridge; subscribes to nothing until run.
    /// - Parameters:
    ///   - router: Stores the messages; its contracts name the channels.
    ///   - engine: The router's Redis engine: its client carries the subscription, claims and dead letters.
    ///   - configuration: Source, patterns, claim window, size limit.
    ///   - logger: Where refusals and reconnects are reported.
    ///   - metricsFactory: Where `switchyard_bridge_messages_total` is counted; `nil` for the process's.
    public init(
        router: Router, engine: RedisEngine, configuration: Configuration = Configuration(), logger: Logger,
        metricsFactory: (any MetricsFactory)? = nil
    ) {
        self.router = router
        self.engine = engine
        self.configuration = configuration
        self.logger = logger
        var counters: [Outcome: Counter] = [:]
        for outcome in Outcome.all {
            counters[outcome] = Counter(
                label: SwitchyardMetrics.Name.bridgeMessages, dimensions: [(SwitchyardMetrics.Label.result, outcome.rawValue)],
                factory: metricsFactory ?? MetricsSystem.factory)
        }
        self.counters = counters
    }

    /// Whether the subscription is live on the server (false again while the bridge is stopped).
    public var isSubscribed: Bool { subscribed.load(ordering: .relaxed) }

    /// The patterns subscribed to.
    public var patterns: [ChannelPattern] {
        configuration.patterns ?? router.contracts.contracts.map(\.channel)
    }

    /// Takes messages until cancelled or a graceful shutdown.
    /// - Throws: the Redis client's error when the subscription cannot be made.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            do { try await self.follow() } catch { if !Task.isCancelled { throw error } }
        }
    }

    /// Subscribes and takes every message until the subscription ends.
    private func follow() async throws {
        defer { subscribed.store(false, ordering: .relaxed) }
        try await engine.client.subscribe(toPatterns: patterns.map(\.rawValue)) { subscription in
            subscribed.store(true, ordering: .relaxed)
            logger.info("the bridge takes plain publishes", metadata: ["patterns": "\(patterns.count)", "source": "\(configuration.source)"])
            for try await event in subscription {
                switch event {
                case .message(let message):
                    let outcome = await take(message)
                    counters[outcome]?.increment()
                case .gap(let gap):
                    logger.warning("the bridge may have missed plain publishes", metadata: ["reason": "\(gap.reason)"])
                }
            }
        }
    }

    /// Handles one Pub/Sub message: skips Switchyard's own, claims it, stores it or dead-letters it.
    /// - Returns: What became of it.
    public func take(_ message: RedisPubSubMessage) async -> Outcome {
        if message.channel.hasPrefix(RedisEngine.companionChannelPrefix) { return .skipped }
        let bytes = message.payload
        let oversized = bytes.readableBytes > configuration.maxMessageBytes
        if !oversized, let envelope = try? Envelope(decoding: bytes.readableBytesView), envelope.channel.rawValue == message.channel {
            return .skipped
        }
        guard let channel = try? ChannelName(message.channel) else {
            let error = SwitchyardError.validation(
                missing: [], invalid: [("channel", "'\(message.channel.prefix(80))' is not a channel name")], message: "Invalid channel")
            return await refuse(bytes, on: Self.invalidChannelDeadLetters, from: message.channel, error)
        }
        do {
            switch try await claim(bytes, on: channel) {
            case .echo: return .skipped
            case .taken: return .duplicate
            case .claimed: break
            }
        } catch {
            logger.error("the bridge could not claim a message", metadata: ["channel": "\(channel)", "error": "\(error)"])
            return .failed
        }
        if oversized {
            let error = SwitchyardError(
                .payloadTooLarge, "the message is \(bytes.readableBytes) bytes, over the bridge's limit of \(configuration.maxMessageBytes)")
            return await refuse(bytes, on: channel, from: message.channel, Self.asValidationError(error))
        }
        let payload: JSONValue
        do {
            payload = try JSONValue(parsing: bytes.readableBytesView)
        } catch {
            let refusal = SwitchyardError.validation(missing: [], invalid: [("$", "not valid JSON: \(error)")], message: "Invalid JSON")
            return await refuse(bytes, on: channel, from: message.channel, refusal)
        }
        guard case .object = payload else {
            let refusal = SwitchyardError.validation(missing: [], invalid: [("$", "must be a JSON object")], message: "Invalid message schema")
            return await refuse(bytes, on: channel, from: message.channel, refusal)
        }
        return await store(payload, bytes, on: channel)
    }

    /// Publishes through the router, trying again while rate-limited; refuses what the router refuses.
    private func store(_ payload: JSONValue, _ bytes: ByteBuffer, on channel: ChannelName) async -> Outcome {
        let request = PublishRequest(channel: channel, payload: payload, source: configuration.source, payloadAlreadyLive: true)
        var attempt = 0
        while true {
            do {
                let receipt = try await router.publish([request])[0]
                return receipt.duplicate ? .duplicate : .stored
            } catch let error where error.code == .rateLimited && attempt < configuration.rateLimitRetries {
                attempt += 1
                try? await Task.sleep(for: error.retryAfter ?? .milliseconds(100))
            } catch let error where error.code == .engineUnavailable {
                logger.error("the bridge could not store a message", metadata: ["channel": "\(channel)", "error": "\(error)"])
                return .failed
            } catch {
                return await refuse(bytes, on: channel, from: channel.rawValue, Self.asValidationError(error))
            }
        }
    }

    /// A refusal in seed 000's `validation_error` shape: another code (`unknown_channel`,
    /// `payload_too_large`, …) becomes an invalid field with its message, and stays in `details.reason`.
    static func asValidationError(_ error: SwitchyardError) -> SwitchyardError {
        guard error.code != .validationError else { return error }
        let field = error.code == .unknownChannel || error.code == .invalidChannel ? "channel" : "$"
        let refusal = SwitchyardError.validation(missing: [], invalid: [(field, error.message)], message: "Message refused (\(error.code))")
        var details = refusal.details
        details["reason"] = .string(error.code.rawValue)
        return SwitchyardError(.validationError, refusal.message, details: details)
    }

    /// What a claim found.
    enum Claim { case claimed, taken, echo }

    /// Checks the echo mark and takes the claim, in one script.
    private func claim(_ bytes: ByteBuffer, on channel: ChannelName) async throws -> Claim {
        let raw = Array(bytes.readableBytesView)
        let sha1 = Self.hex(Insecure.SHA1.hash(data: raw))
        let sha256 = Self.hex(SHA256.hash(data: raw))
        let tag = "{\(channel.rawValue)}"
        let reply = try await engine.client.execute(
            Self.claimScript, keys: ["bridge:echo:\(tag):\(sha1)", "bridge:claim:\(tag):\(sha256)"],
            arguments: [ByteBuffer(string: String(max(1, Int((configuration.claimWindow / .milliseconds(1)).rounded(.up)))))])
        switch reply.int {
        case 1: return .claimed
        case 2: return .echo
        default: return .taken
        }
    }

    /// A digest in lowercase hex, as Lua's `redis.sha1hex` writes it.
    static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in digest {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// KEYS[1] the echo mark, KEYS[2] the claim; ARGV[1] the claim's lifetime in ms.
    /// Returns 2 when the bytes are Switchyard's own payload, 1 when claimed here, 0 when claimed already.
    static let claimScript = RedisScript(
        #"""
        if redis.call('EXISTS', KEYS[1]) == 1 then return 2 end
        if redis.call('SET', KEYS[2], '1', 'NX', 'PX', tonumber(ARGV[1])) then return 1 end
        return 0
        """#)

    /// Dead-letters a refused message, as it was, on `dlq:{C}` with the bridge's source as the group.
    private func refuse(_ bytes: ByteBuffer, on channel: ChannelName, from pubSubChannel: String, _ error: SwitchyardError) async -> Outcome {
        logger.warning(
            "the bridge refused a message", metadata: ["channel": "\(pubSubChannel.prefix(200))", "error_type": "\(error.code)", "error": "\(error.message)"])
        do {
            try await engine.deadLetterRefusedMessage(
                bytes, channel: channel, pubSubChannel: pubSubChannel, group: configuration.source, error: error.body)
            return .refused
        } catch {
            logger.error("the bridge could not dead-letter a refused message", metadata: ["channel": "\(channel)", "error": "\(error)"])
            return .failed
        }
    }
}
