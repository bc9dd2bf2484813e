// WebSocket fan-out: K clients subscribed to a pattern on a running `switchyard serve`, one
// publisher sending events at a fixed rate over its own WebSocket connection. Latency is measured
// against the publisher's schedule (the time each event was due to be sent), so a publisher that
// falls behind shows as latency instead of hiding it.
//
// Usage: ws-fanout-bench serve PORT           runs the gateway as `switchyard serve --port PORT` does
//        ws-fanout-bench URL SERVER_PID [connections] [rate/s] [seconds] [pattern] [channel]
//   e.g. ws-fanout-bench ws://127.0.0.1:8080/v1/ws 12345 1000 100 20 'market_data:*' market_data:btc_price
// Prints one line of figures; the server's CPU and RSS come from /proc/SERVER_PID.
import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import Switchyard
import SwitchyardGateway
import Synchronization

let arguments = CommandLine.arguments
if arguments.count == 3, arguments[1] == "serve", let port = Int(arguments[2]) {
    var serverLogger = Logger(label: "switchyard")
    serverLogger.logLevel = .warning
    let configuration = GatewayConfiguration(port: port, redisURL: ProcessInfo.processInfo.environment["BENCH_REDIS_URL"])
    try await buildApplication(configuration: configuration, logger: serverLogger).runService()
    exit(0)
}
guard arguments.count >= 3, let serverPID = Int32(arguments[2]) else {
    FileHandle.standardError.write(Data("usage: ws-fanout-bench URL SERVER_PID [connections] [rate] [seconds] [pattern] [channel]\n".utf8))
    exit(2)
}
let url = arguments[1]
let connections = arguments.count > 3 ? Int(arguments[3])! : 1000
let rate = arguments.count > 4 ? Int(arguments[4])! : 100
let seconds = arguments.count > 5 ? Int(arguments[5])! : 20
let pattern = arguments.count > 6 ? arguments[6] : "market_data:*"
let channel = arguments.count > 7 ? arguments[7] : "market_data:btc_price"
let warmup = 3.0
var logger = Logger(label: "ws-fanout-bench")
logger.logLevel = .warning

func runClient(_ index: Int) async throws -> ClientResult {
    let box = ResultBox()
    let expected = rate * seconds + 64
    try await WebSocketClient.connect(url: url, logger: logger) { inbound, outbound, _ in
        var result = ClientResult()
        result.latencies.reserveCapacity(expected)
        var seen = Set<EventID>()
        try await outbound.write(.text(#"{"type":"subscribe","patterns":["\#(pattern)"]}"#))
        for try await frame in inbound {
            let bytes = frame.data.readableBytesView
            guard let id = eventID(in: bytes) else {
                if bytes.firstRange(of: Array(#""type":"subscribed""#.utf8)) != nil { subscribed.add(1, ordering: .relaxed) }
                continue
            }
            let arrived = now()
            if !seen.insert(id).inserted { result.duplicates += 1; continue }
            if let due = schedule.withLock({ $0.due[id] }), measuring.load(ordering: .relaxed) {
                result.latencies.append(arrived - due)
                result.received += 1
            }
            if arrived > stopAt.withLock({ $0 }) { break }
        }
        box.value.withLock { [result] in $0 = result }
    }
    return box.value.withLock { $0 }
}

let rssBefore = serverRSS(serverPID)
say("connecting \(connections) clients to \(url) (pattern \(pattern))…")
let results = try await withThrowingTaskGroup(of: ClientResult.self) { group in
    for index in 0..<connections {
        group.addTask { try await runClient(index) }
        if index % 50 == 49 { try await Task.sleep(for: .milliseconds(20)) }
    }
    let connectDeadline = now() + 120
    while subscribed.load(ordering: .relaxed) < connections, now() < connectDeadline {
        try await Task.sleep(for: .milliseconds(100))
    }
    let ready = subscribed.load(ordering: .relaxed)
    say("subscribed \(ready) clients after \(Int(now())) s")
    try await Task.sleep(for: .seconds(2))
    let rssIdle = serverRSS(serverPID)
    say("subscribed: \(ready)/\(connections); server RSS \(rssBefore / 1_048_576) MiB before, \(rssIdle / 1_048_576) MiB with the clients idle: \((rssIdle - rssBefore) / max(1, ready) / 1024) KiB per connection")

    // The publisher: one connection, one publish frame per tick, due times recorded before sending.
    let publishedInWindow = Atomic<Int>(0)
    group.addTask {
        try await WebSocketClient.connect(url: url, logger: logger) { inbound, outbound, _ in
            let start = now()
            let interval = 1.0 / Double(rate)
            let end = start + warmup + Double(seconds)
            stopAt.withLock { $0 = end + 2 }
            var tick = 0
            let drain = Task { for try await _ in inbound {} }
            while true {
                let due = start + Double(tick) * interval
                if due >= end { break }
                let wait = due - now()
                if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
                if due >= start + warmup {
                    measuring.store(true, ordering: .relaxed)
                    publishedInWindow.add(1, ordering: .relaxed)
                }
                let id = EventID.generate()
                schedule.withLock { $0.due[id] = due }
                let price = 60_000 + Double(tick % 1000) / 10
                try await outbound.write(.text(#"{"type":"publish","channel":"\#(channel)","event_id":"\#(id)","data":{"symbol":"BTC-USD","price":\#(price),"source":"coinbase","timestamp":"2026-01-27T10:30:05.123Z"}}"#))
                tick += 1
            }
            // One last event after the clients' stop time: the frame that tells each of them to stop
            // (it is not in the schedule, so it is not counted).
            try await Task.sleep(for: .seconds(2.5))
            try await outbound.write(.text(#"{"type":"publish","channel":"\#(channel)","data":{"symbol":"BTC-USD","price":1,"source":"coinbase","timestamp":"2026-01-27T10:30:05.123Z"}}"#))
            try await Task.sleep(for: .seconds(1))
            drain.cancel()
        }
        return ClientResult()
    }
    let cpuStart = serverCPUSeconds(serverPID)
    let wallStart = now()
    var all: [ClientResult] = []
    for try await result in group { all.append(result) }
    let cpu = (serverCPUSeconds(serverPID) - cpuStart) / (now() - wallStart)
    let published = publishedInWindow.load(ordering: .relaxed)
    var latencies = all.flatMap(\.latencies)
    latencies.sort()
    func percentile(_ p: Double) -> Double {
        latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] * 1000
    }
    let received = all.reduce(0) { $0 + $1.received }
    let expected = published * ready
    say(String(
        format: "ws fan-out: %d connections, %d events/s, %d s: %.0f deliveries/s; latency vs schedule p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms; missing %d of %d, duplicates %d; server CPU %.0f%% of a core, RSS %d MiB",
        ready, rate, seconds, Double(received) / Double(seconds), percentile(0.5), percentile(0.99), percentile(0.999),
        (latencies.last ?? .nan) * 1000, max(0, expected - received), expected, all.reduce(0) { $0 + $1.duplicates },
        cpu * 100, serverRSS(serverPID) / 1_048_576))
    return all
}
_ = results
