import Foundation

/// A process's CPU and memory over a benchmark's measured window.
public struct ProcessReport: Codable, Sendable, Equatable {
    /// Its process id.
    public var pid: Int32
    /// What it is in the run: `bench (router, consumers, gateway)`, `redis-server`, …
    public var role: String
    /// Its executable's name, from `/proc/PID/comm`.
    public var command: String?
    /// CPU used over the window, in percent of one core.
    public var cpuPercent: Double
    /// Resident memory at the end, in bytes.
    public var rssBytes: Int
    /// The largest resident memory sampled, in bytes.
    public var peakRSSBytes: Int
    /// CPU used while the publishers ran (the drain after it left out), in percent of one core.
    public var cpuPercentWhilePublishing: Double?
    /// CPU time while the publishers ran, divided by the events acknowledged, in microseconds:
    /// what one event cost this process (publish, consume, fan-out, as the run had them).
    public var cpuMicrosecondsPerEvent: Double?

    /// The role without what follows it in parentheses: `bench process`, `group process`, `redis-server`.
    public var shortRole: String {
        guard let open = role.range(of: " (") else { return role }
        return String(role[..<open.lowerBound])
    }
}

/// What the publishers sent and got acknowledged.
public struct PublishReport: Codable, Sendable, Equatable {
    /// Events handed to publish.
    public var sent: Int
    /// Events acknowledged with a receipt.
    public var acked: Int
    /// Events refused with an error (never acknowledged).
    public var refused: Int
    /// The first refusal's message, if any.
    public var firstError: String?
    /// Acknowledged events per second over the publishing time.
    public var throughput: Double
    /// Acknowledgement time minus scheduled send time.
    public var latency: LatencySummary
}

/// What one consumer group received.
public struct GroupReport: Codable, Sendable, Equatable {
    /// The group's name.
    public var group: String
    /// Consumers in it.
    public var consumers: Int
    /// Distinct events handled.
    public var delivered: Int
    /// Deliveries of an event already handled (redeliveries).
    public var duplicates: Int
    /// Acknowledged events never handled.
    public var missing: Int
    /// Events handled that no publisher of this run had acknowledged.
    public var unexpected: Int
    /// Distinct events handled per second over the publishing time.
    public var throughput: Double
    /// Handler time minus scheduled send time.
    public var latency: LatencySummary
}

/// What the WebSocket clients received.
public struct WebSocketReport: Codable, Sendable, Equatable {
    /// The gateway they connected to.
    public var url: String
    /// Clients started.
    public var clients: Int
    /// Clients whose subscription the gateway confirmed.
    public var subscribed: Int
    /// Distinct events received, over every client.
    public var delivered: Int
    /// Events received again, or out of order, on their channel.
    public var duplicates: Int
    /// Jumps in a channel's sequence numbers seen.
    public var gaps: Int
    /// Acknowledged events some subscribed client did not receive (counted per client).
    public var missing: Int
    /// Deliveries per second over the publishing time, every client together.
    public var throughput: Double
    /// Receive time minus scheduled send time.
    public var latency: LatencySummary
    /// Close codes the gateway sent, with how many clients got each.
    public var closeCodes: [String: Int]
}

/// The result of one `switchyard bench` run.
public struct BenchReport: Encodable, Sendable, Equatable {
    /// `embedded`, `redis` or `kafka`.
    public var engine: String
    /// Publishers.
    public var publishers: Int
    /// Scheduled events per second, per publisher.
    public var ratePerPublisher: Int
    /// The most events per publish call.
    public var batch: Int
    /// Publishing time, warm-up included, in seconds.
    public var seconds: Double
    /// Warm-up excluded from latency, in seconds.
    public var warmupSeconds: Double
    /// The channels, as a pattern.
    public var channels: String
    /// The publishers' figures.
    public var publish: PublishReport
    /// One report per consumer group.
    public var groups: [GroupReport]
    /// The WebSocket clients' figures; `nil` without clients.
    public var webSocket: WebSocketReport?
    /// This process: the router, and whichever of the consumers, the gateway and the WebSocket
    /// clients run here (its ``ProcessReport/role`` names them).
    public var process: ProcessReport?
    /// The process of its own the consumer groups ran in (`--group-process`); `nil` when they ran here.
    public var groupProcess: ProcessReport?
    /// The process of its own the WebSocket clients ran in (`--ws-process`); `nil` when they ran here.
    public var webSocketProcess: ProcessReport?
    /// The server named by `--server-pid` (a Kafka broker, with `--kafka`), or the local `redis-server`; `nil` when none could be read.
    public var server: ProcessReport?
    /// The machine's 1, 5 and 15 minute load averages at the end.
    public var loadAverage: [Double]
    /// Acknowledged events missing from a group or a subscribed WebSocket client, summed.
    public var lost: Int { groups.reduce(0) { $0 + $1.missing } + (webSocket?.missing ?? 0) }

    /// Every process reported, in the order the text prints them: this one, the group process,
    /// the WebSocket client process, the server.
    public var processes: [ProcessReport] { [process, groupProcess, webSocketProcess, server].compactMap { $0 } }

    /// The CPU time per acknowledged event while publishing of every reported process together, in
    /// microseconds: what one event cost the machine, router, receivers and server; `nil` when no
    /// process has the figure.
    public var totalCPUMicrosecondsPerEvent: Double? {
        let costs = processes.compactMap(\.cpuMicrosecondsPerEvent)
        return costs.isEmpty ? nil : costs.reduce(0, +)
    }

    enum CodingKeys: String, CodingKey {
        case engine, publishers, ratePerPublisher = "rate_per_publisher", batch, seconds, warmupSeconds = "warmup_seconds"
        case channels, publish, groups, webSocket = "websocket", process, groupProcess = "group_process"
        case webSocketProcess = "websocket_process", server, loadAverage = "load_average", lost
        case totalCPUMicrosecondsPerEvent = "total_cpu_microseconds_per_event"
    }

    /// Encodes the report, with ``lost`` and ``totalCPUMicrosecondsPerEvent`` included.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(engine, forKey: .engine)
        try container.encode(publishers, forKey: .publishers)
        try container.encode(ratePerPublisher, forKey: .ratePerPublisher)
        try container.encode(batch, forKey: .batch)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(warmupSeconds, forKey: .warmupSeconds)
        try container.encode(channels, forKey: .channels)
        try container.encode(publish, forKey: .publish)
        try container.encode(groups, forKey: .groups)
        try container.encodeIfPresent(webSocket, forKey: .webSocket)
        try container.encodeIfPresent(process, forKey: .process)
        try container.encodeIfPresent(groupProcess, forKey: .groupProcess)
        try container.encodeIfPresent(webSocketProcess, forKey: .webSocketProcess)
        try container.encodeIfPresent(server, forKey: .server)
        try container.encodeIfPresent(totalCPUMicrosecondsPerEvent, forKey: .totalCPUMicrosecondsPerEvent)
        try container.encode(loadAverage, forKey: .loadAverage)
        try container.encode(lost, forKey: .lost)
    }

    init(
        engine: String, configuration: BenchConfiguration, channels: String, publish: PublishReport, groups: [GroupReport],
        webSocket: WebSocketReport?, process: ProcessReport?, groupProcess: ProcessReport? = nil, webSocketProcess: ProcessReport? = nil,
        server: ProcessReport?, loadAverage: [Double]
    ) {
        self.engine = engine
        publishers = configuration.publishers
        ratePerPublisher = configuration.ratePerPublisher
        batch = configuration.batch
        seconds = configuration.seconds
        warmupSeconds = configuration.warmupSeconds
        self.channels = channels
        self.publish = publish
        self.groups = groups
        self.webSocket = webSocket
        self.process = process
        self.groupProcess = groupProcess
        self.webSocketProcess = webSocketProcess
        self.server = server
        self.loadAverage = loadAverage
    }

    /// The report as indented JSON, keys sorted.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// The report as plain text, one figure per line.
    public var text: String {
        func rate(_ value: Double) -> String { String(format: "%.0f/s", value) }
        func mib(_ bytes: Int) -> String { String(format: "%.0f MiB", Double(bytes) / 1_048_576) }
        var lines = [
            "switchyard bench: \(engine) engine, \(publishers) publishers × \(ratePerPublisher) events/s (batches up to \(batch)) on \(channels), "
                + "\(String(format: "%g", seconds)) s (warm-up \(String(format: "%g", warmupSeconds)) s)",
            "publish: sent \(publish.sent), acked \(publish.acked), refused \(publish.refused); \(rate(publish.throughput)); "
                + "ack vs schedule \(publish.latency.text)",
        ]
        if let error = publish.firstError { lines.append("  first refusal: \(error)") }
        for group in groups {
            lines.append(
                "group \(group.group) (\(group.consumers) consumers): delivered \(group.delivered), missing \(group.missing), "
                    + "duplicates \(group.duplicates), unexpected \(group.unexpected); \(rate(group.throughput)); vs schedule \(group.latency.text)")
        }
        if let ws = webSocket {
            let closes = ws.closeCodes.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: ", ")
            lines.append(
                "websocket \(ws.url): \(ws.subscribed)/\(ws.clients) subscribed, delivered \(ws.delivered), missing \(ws.missing), "
                    + "duplicates \(ws.duplicates), gaps \(ws.gaps); \(rate(ws.throughput)); vs schedule \(ws.latency.text)"
                    + (closes.isEmpty ? "" : "; closed by the server: \(closes)"))
        }
        for process in processes {
            var cpu = "CPU \(String(format: "%.0f", process.cpuPercent)) % of a core"
            if let publishing = process.cpuPercentWhilePublishing {
                cpu += " (\(String(format: "%.0f", publishing)) % while publishing"
                    + (process.cpuMicrosecondsPerEvent.map { String(format: ", %.1f µs per event", $0) } ?? "") + ")"
            }
            lines.append(
                "\(process.role) (pid \(process.pid)): \(cpu), "
                    + "RSS \(mib(process.rssBytes)) (peak \(mib(process.peakRSSBytes)))")
        }
        if processes.count > 1, let total = totalCPUMicrosecondsPerEvent {
            let parts = processes.compactMap { process in process.cpuMicrosecondsPerEvent.map { "\(process.shortRole) " + String(format: "%.1f", $0) } }
            lines.append(
                "CPU per acknowledged event while publishing, these \(processes.count) processes together: "
                    + String(format: "%.1f", total) + " µs (" + parts.joined(separator: " + ") + ")")
        }
        lines.append("load average: \(loadAverage.map { String(format: "%.2f", $0) }.joined(separator: " "))")
        lines.append("lost: \(lost)")
        return lines.joined(separator: "\n")
    }
}
