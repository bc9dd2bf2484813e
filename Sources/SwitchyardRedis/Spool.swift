import Foundation
import JSONSchema
import Metrics
import Switchyard

/// The durable local spool of the Redis engine: an append-only file of publishes accepted while
/// Redis was unreachable, fsynced per batch, replayed in order when Redis returns, then truncated.
///
/// Each line is one JSON object: the event's id, channel, accepted-at time, source, schema, data,
/// metadata and append rules. A replay keeps the event ids, so the dedup window stores each event
/// once even when a batch was both stored and spooled, or a replay is repeated after a crash.
/// Its depth is ``depth`` and the gauge `switchyard_spool_depth{engine="redis"}`.
///
/// The file is written and fsynced on the actor's executor: the spool is the degraded path, taken
/// only while Redis is unreachable. What the file holds and where the replay stands is kept by
/// ``SpoolState``; the actor does the file's I/O.
public actor Spool {
    /// Where the spool lives and how much it may hold.
    public struct Configuration: Sendable {
        /// The spool file; created when missing, and read on first use, so events spooled before a
        /// restart are replayed too.
        public var path: String
        /// The most events it holds; a publish beyond is refused with `spool_full`. Default 100,000.
        public var maxEvents: Int
        /// The most bytes it holds. Default 256 MiB.
        public var maxBytes: Int

        /// Creates a configuration.
        public init(path: String, maxEvents: Int = 100_000, maxBytes: Int = 256 << 20) {
            self.path = path
            self.maxEvents = maxEvents
            self.maxBytes = maxBytes
        }
    }

    /// A run of spooled events handed out for replay.
    struct Batch: Sendable {
        var requests: [AppendRequest]
        var endOffset: UInt64
    }

    /// The configuration.
    public let configuration: Configuration
    private var handle: FileHandle?
    private var state: SpoolState
    /// Bytes read by ``next(limit:)`` since the spool was opened.
    private(set) var bytesRead: UInt64 = 0
    /// How much ``next(limit:)`` reads at a time.
    static let readChunkSize = 64 << 10
    private let gauge = Gauge(label: SwitchyardMetrics.Name.spoolDepth, dimensions: [(SwitchyardMetrics.Label.engine, "redis")])

    /// Creates a spool; the file is opened on first use.
    public init(configuration: Configuration) {
        self.configuration = configuration
        self.state = SpoolState(maxEvents: configuration.maxEvents, maxBytes: configuration.maxBytes)
    }

    /// Events waiting to be replayed.
    /// - Throws: ``SwitchyardError`` `engine_unavailable` when the file cannot be opened.
    public var depth: Int {
        get throws(SwitchyardError) {
            _ = try file()
            return state.depth
        }
    }

    /// Appends the requests when the spool already holds events (so they keep their place after
    /// them); returns whether it did.
    func appendIfSpooling(_ requests: [AppendRequest]) throws(SwitchyardError) -> Bool {
        _ = try file()
        guard state.isSpooling else { return false }
        try append(requests)
        return true
    }

    /// Appends the requests and fsyncs, or refuses them all when the bound would be passed.
    func append(_ requests: [AppendRequest]) throws(SwitchyardError) {
        let handle = try file()
        var text = ""
        for request in requests { text += Self.line(request) + "\n" }
        let data = Data(text.utf8)
        if case .refuse(let error) = state.append(events: requests.count, bytes: data.count) { throw error }
        do {
            try handle.seekToEnd()
            try handle.write(contentsOf: data)
            try handle.synchronize()
        } catch {
            throw SwitchyardError(.engineUnavailable, "writing the spool failed: \(error)")
        }
        state.appended(events: requests.count, bytes: data.count)
        gauge.record(state.depth)
    }

    /// The next events to replay, oldest first: read forward from where the last batch ended, in
    /// chunks of ``readChunkSize`` bytes (doubled for a line longer than that), so replaying a large
    /// spool reads it about once.
    func next(limit: Int) throws(SwitchyardError) -> Batch {
        let handle = try file()
        guard case .read(let start, let end) = state.nextRead else { return Batch(requests: [], endOffset: state.replayedOffset) }
        var requests: [AppendRequest] = []
        var offset = start
        var chunkSize = Self.readChunkSize
        do {
            while requests.count < limit, offset < end {
                try handle.seek(toOffset: offset)
                guard let data = try handle.read(upToCount: chunkSize), !data.isEmpty else { break }
                bytesRead += UInt64(data.count)
                var lineStart = data.startIndex
                while requests.count < limit, let newline = data[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
                    if let request = Self.request(from: data[lineStart..<newline]) { requests.append(request) }
                    offset += UInt64(newline - lineStart + 1)
                    lineStart = newline + 1
                }
                if lineStart == data.startIndex {
                    guard data.count == chunkSize else { break }
                    chunkSize *= 2
                }
            }
        } catch {
            throw SwitchyardError(.engineUnavailable, "reading the spool failed: \(error)")
        }
        return Batch(requests: requests, endOffset: offset)
    }

    /// Marks a batch as stored in Redis; truncates the file once everything is.
    func acknowledge(_ batch: Batch) throws(SwitchyardError) {
        if case .truncate = state.acknowledge(events: batch.requests.count, endOffset: batch.endOffset) {
            do {
                try file().truncate(atOffset: 0)
                try file().synchronize()
            } catch {
                throw SwitchyardError(.engineUnavailable, "truncating the spool failed: \(error)")
            }
            state.truncated()
        }
        gauge.record(state.depth)
    }

    /// The open file, opening it (and counting what it holds) the first time.
    ///
    /// It is created readable and writable by its owner only (0600), since it holds event payloads;
    /// an existing file is set to 0600 too. A symbolic link at the path is refused (`O_NOFOLLOW`),
    /// so the spool cannot be pointed at another file, and so is a file another user owns (which
    /// could have been made readable or writable by others before the service opened it).
    private func file() throws(SwitchyardError) -> FileHandle {
        if let handle { return handle }
        let path = configuration.path
        let descriptor = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let code = errno
            if code == ELOOP {
                throw SwitchyardError(.engineUnavailable, "the spool path \(path) is a symbolic link: refusing it; give the spool file's own path")
            }
            throw SwitchyardError(.engineUnavailable, "cannot open the spool file \(path): \(String(cString: strerror(code)))")
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_uid == geteuid(), fchmod(descriptor, 0o600) == 0 else {
            close(descriptor)
            throw SwitchyardError(
                .engineUnavailable,
                "the spool file \(path) belongs to another user or cannot be made private (0600): refusing it; give a path in a folder only this service can write")
        }
        let opened = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        let data = (try? opened.readToEnd()) ?? Data()
        if case .closeCutLine = state.opened(data) {
            do {
                try opened.seekToEnd()
                try opened.write(contentsOf: Data("\n".utf8))
                try opened.synchronize()
            } catch {
                throw SwitchyardError(.engineUnavailable, "repairing the spool failed: \(error)")
            }
        }
        handle = opened
        gauge.record(state.depth)
        return opened
    }

    static func line(_ request: AppendRequest) -> String {
        var rules: JSONObject = [
            "retention_ms": .int(request.rules.retention.milliseconds),
            "dedup_window_ms": .int(request.rules.dedupWindow.milliseconds),
            "durable": .bool(request.rules.durable),
        ]
        if let limit = request.rules.rateLimit {
            rules["rate_per_second"] = .int(Int64(limit.perSecond))
            rules["rate_burst"] = .int(Int64(limit.burst))
        }
        // Only payload mode is written, so lines of envelope-mode channels stay as they were.
        if request.rules.liveMessage != .envelope {
            rules["live_message"] = .string(request.rules.liveMessage.rawValue)
            rules["payload_already_live"] = .bool(request.rules.payloadAlreadyLive)
        }
        // Likewise only an acknowledgement that waits for a replica: the replay waits for it too,
        // before the line leaves the spool.
        switch request.rules.acknowledgement {
        case .primary: break
        case .replicated: rules["acknowledgement"] = "replicated"
        case .replicatedWhereReplicas: rules["acknowledgement"] = "replicated_where_replicas"
        }
        var object: JSONObject = [
            "event_id": .string(request.eventID.description), "channel": .string(request.channel.rawValue),
            "accepted_at_ms": .int(request.timestamp.unixMilliseconds), "source": .string(request.source),
            "schema": .string(request.schema), "data": request.data, "metadata": .object(request.metadata), "rules": .object(rules),
        ]
        if let eventTime = request.eventTime { object["event_time"] = .string(eventTime) }
        return JSONValue.object(object).serialized()
    }

    static func request(from bytes: Data) -> AppendRequest? {
        guard case .object(let object)? = try? JSONValue(parsing: bytes), case .object(let rules)? = object["rules"],
            let eventID = object["event_id"]?.stringValue.flatMap({ EventID($0) }),
            let channel = object["channel"]?.stringValue.flatMap({ try? ChannelName($0) }),
            case .int(let accepted)? = object["accepted_at_ms"], case .int(let retention)? = rules["retention_ms"],
            case .int(let window)? = rules["dedup_window_ms"]
        else { return nil }
        var limit: ChannelPolicy.RateLimit?
        if case .int(let perSecond)? = rules["rate_per_second"], case .int(let burst)? = rules["rate_burst"] {
            limit = ChannelPolicy.RateLimit(perSecond: Int(perSecond), burst: Int(burst))
        }
        let durable: Bool = if case .bool(let value)? = rules["durable"] { value } else { true }
        let live = ChannelPolicy.LiveMessage.all.first { $0.rawValue == rules["live_message"]?.stringValue } ?? .envelope
        let alreadyLive: Bool = if case .bool(let value)? = rules["payload_already_live"] { value } else { false }
        let acknowledgement: AppendRules.Acknowledgement = switch rules["acknowledgement"]?.stringValue {
        case "replicated": .replicated
        case "replicated_where_replicas": .replicatedWhereReplicas
        default: .primary
        }
        return AppendRequest(
            eventID: eventID, channel: channel, timestamp: Timestamp(unixMilliseconds: accepted),
            source: object["source"]?.stringValue ?? "", schema: object["schema"]?.stringValue ?? "",
            data: object["data"] ?? .null, metadata: object["metadata"]?.objectValue ?? [:],
            rules: AppendRules(retention: .milliseconds(retention), dedupWindow: .milliseconds(window), rateLimit: limit, durable: durable,
                liveMessage: live, payloadAlreadyLive: alreadyLive, acknowledgement: acknowledgement),
            eventTime: object["event_time"]?.stringValue)
    }
}
