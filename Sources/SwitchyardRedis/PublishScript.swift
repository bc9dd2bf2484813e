import JSONSchema
import NIOCore
import RESP
import RedisClient
import Switchyard

/// One `EVALSHA` of `publish.lua`: the events of one channel from a batch, with their keys and
/// arguments, and the reading of its reply.
struct PublishScript: Sendable {
    /// Where each event of this call sits in the batch.
    let indices: [Int]
    let channel: ChannelName
    let rules: AppendRules
    let source: String
    var keys: [String]
    var arguments: [ByteBuffer]

    /// The calls for a batch: one per channel, in the order each channel first appears; events keep their order.
    static func calls(for requests: [AppendRequest], now: Int64, configuration: RedisEngine.Configuration, enforcesRateLimits: Bool) -> [PublishScript] {
        var order: [ChannelName] = []
        var byChannel: [ChannelName: [Int]] = [:]
        for (index, request) in requests.enumerated() {
            if byChannel[request.channel] == nil { order.append(request.channel) }
            byChannel[request.channel, default: []].append(index)
        }
        return order.map { channel in
            PublishScript(
                requests: requests, indices: byChannel[channel]!, now: now, configuration: configuration,
                enforcesRateLimits: enforcesRateLimits)
        }
    }

    private init(requests: [AppendRequest], indices: [Int], now: Int64, configuration: RedisEngine.Configuration, enforcesRateLimits: Bool) {
        let first = requests[indices[0]]
        let keys = RedisKeys(first.channel)
        self.indices = indices
        self.channel = first.channel
        self.rules = first.rules
        self.source = first.source
        let limit = enforcesRateLimits ? first.rules.rateLimit : nil
        var keyList = [keys.stream, keys.sequence, keys.latest, keys.rate(source: first.source), keys.meta]
        var arguments: [ByteBuffer] = [
            ByteBuffer(string: first.channel.rawValue),
            ByteBuffer(string: String(first.rules.retention.milliseconds)),
            ByteBuffer(string: String(first.rules.dedupWindow.milliseconds)),
            ByteBuffer(string: String(max(0, configuration.maxEntriesPerChannel))),
            ByteBuffer(string: Self.live(first.rules)),
            ByteBuffer(string: first.rules.durable ? "1" : "0"),
            ByteBuffer(string: String(limit?.perSecond ?? 0)),
            ByteBuffer(string: String(limit?.burst ?? 0)),
            ByteBuffer(string: String(now)),
            ByteBuffer(string: String(indices.count)),
        ]
        keyList.reserveCapacity(keyList.count + indices.count)
        arguments.reserveCapacity(arguments.count + 3 * indices.count)
        for index in indices {
            let request = requests[index]
            keyList.append(keys.dedup(request.eventID))
            let (prefix, suffix) = Self.envelopeParts(request)
            arguments.append(ByteBuffer(string: String(request.timestamp.unixMilliseconds)))
            arguments.append(ByteBuffer(bytes: prefix))
            arguments.append(ByteBuffer(bytes: suffix))
        }
        self.keys = keyList
        self.arguments = arguments
    }

    /// The script's `LIVE` argument: `publish` (the envelope on C), or in payload mode `payload` (the
    /// bare payload on C, the envelope on the companion channel) or `companion` (the envelope only).
    static func live(_ rules: AppendRules) -> String {
        guard rules.liveMessage == .payload else { return "publish" }
        return rules.payloadAlreadyLive ? "companion" : "payload"
    }

    /// The envelope's JSON, in wire order, around the sequence number the script writes: the suffix
    /// starts with the accepted-at timestamp, which the script rewrites only when the stream id moved past it.
    static func envelopeParts(_ request: AppendRequest) -> (prefix: [UInt8], suffix: [UInt8]) {
        var prefix: [UInt8] = []
        prefix.reserveCapacity(128)
        Envelope.writePrefix(eventID: request.eventID, channel: request.channel, into: &prefix)
        var suffix: [UInt8] = []
        suffix.reserveCapacity(256)
        // The timestamp of the accepted-at time, which the script keeps unless the channel's stream
        // id had to move past it; 39 bytes, so the script can replace it (a year outside 1000–9999
        // would not fit, and is left to the script).
        let timestamp = request.timestamp.description.utf8
        if timestamp.count == 24 {
            suffix.append(contentsOf: #","timestamp":""#.utf8)
            suffix.append(contentsOf: timestamp)
            suffix.append(UInt8(ascii: "\""))
        }
        Envelope.writeSuffix(
            eventTime: request.eventTime, source: request.source, schema: request.schema, data: request.data,
            metadata: request.metadata, into: &suffix)
        return (prefix, suffix)
    }

    /// The command to send.
    var command: EVALSHA { EVALSHA(sha: RedisEngineScripts.publish.sha, keys: keys, arguments: arguments) }

    /// What the script answered.
    enum Outcome {
        /// The events were handled: one receipt per event, and how many undelivered entries the hard cap trimmed.
        case stored([PublishReceipt], trimmedUndelivered: Int)
        /// The token bucket refused the whole call.
        case rateLimited(SwitchyardError)
    }

    /// Reads the script's reply.
    func outcome(_ reply: RESPValue, requests: [AppendRequest]) throws(SwitchyardError) -> Outcome {
        guard let fields = reply.elements, fields.count >= 3, let status = fields[0].int else { throw Self.unexpected }
        if status == 0 {
            let limit = rules.rateLimit ?? .standard
            return .rateLimited(
                .rateLimited(channel: channel, source: source, limit: limit, retryAfter: .milliseconds(fields[1].int ?? 1)))
        }
        guard fields.count == 3 + indices.count else { throw Self.unexpected }
        var receipts: [PublishReceipt] = []
        receipts.reserveCapacity(indices.count)
        for (offset, index) in indices.enumerated() {
            guard let event = fields[3 + offset].elements, event.count == 4, let stored = event[0].int, let sequence = event[1].int,
                event[2].bytes != nil, let milliseconds = event[3].int
            else { throw Self.unexpected }
            let position = (try? StreamID(resp: event[2])).map { StreamPosition($0) } ?? StreamPosition(milliseconds: Int64(milliseconds), counter: 0)
            receipts.append(
                PublishReceipt(
                    eventID: requests[index].eventID, channel: channel, sequenceNumber: Int64(sequence), streamID: position,
                    timestamp: Timestamp(unixMilliseconds: Int64(milliseconds)), duplicate: stored == 0))
        }
        return .stored(receipts, trimmedUndelivered: fields[2].int ?? 0)
    }

    private static var unexpected: SwitchyardError {
        SwitchyardError(.engineUnavailable, "unexpected reply from the publish script")
    }
}
