// WebSocket fan-out: K clients subscribed to a pattern on a running `switchyard serve`, one
// publisher sending events at a fixed rate over its own WebSocket connection. Latency is measured
// against the publisher's schedule (the time each event was due to be sent, carried in the
// envelope's metadata as `due`), so a publisher that falls behind shows as latency instead of
// hiding it.
//
// Usage: ws-fanout-bench serve PORT           runs the gateway as `switchyard serve --port PORT` does
//        ws-fanout-bench URL SERVER_PID [connections] [rate/s] [seconds] [pattern] [channel]
//   e.g. ws-fanout-bench ws://127.0.0.1:8080/v1/ws 12345 1000 100 20 'market_data:*' market_data:btc_price
// Prints one line of figures; the server's CPU and RSS come from /proc/SERVER_PID.
import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOPosix
import Switchyard
import SwitchyardBench
import SwitchyardGateway
import SwitchyardServer
import Synchronization

let arguments = CommandLine.arguments
if arguments.count == 3, arguments[1] == "serve", let port = Int(arguments[2]) {
    var serverLogger = Logger(label: "switchyard")
    serverLogger.logLevel = .warning
    // Every bench client is the same anonymous caller: lift the sessions-per-caller limit.
    let configuration = ServerConfiguration(
        gateway: GatewayConfiguration(port: port, authenticator: OpenAuthenticator(), webSocket: WebSocketConfiguration(maxSessionsPerPrincipal: .max)),
        engine: EngineSettings(redisURL: ProcessInfo.processInfo.environment["BENCH_REDIS_URL"]))
    try await buildApplication(configuration: configuration, logger: serverLogger).runService()
    exit(0)
}
guard arguments.count >= 3, let serverPID = Int32(arguments[2]), let target = URL(string: arguments[1]),
      let host = target.host, let port = target.port else {
    FileHandle.standardError.write(Data("usage: ws-fanout-bench ws://HOST:PORT/PATH SERVER_PID [connections] [rate] [seconds] [pattern] [channel]\n".utf8))
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

let rssBefore = serverRSS(serverPID)
say("connecting \(connections) clients to \(url) (pattern \(pattern))…")
let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
let bootstrap = ClientBootstrap(group: group).channelInitializer { channel in
    channel.eventLoop.makeCompletedFuture {
        try channel.pipeline.syncOperations.addHandler(WebSocketLoadClient(
            path: target.path.isEmpty ? "/" : target.path, patterns: [pattern], expected: rate * seconds + 64, window: measureWindow,
            onSubscribed: { subscribed.add(1, ordering: .relaxed) },
            finished: { result in results.withLock { $0.append(result) } }))
    }
}
var channels: [any Channel] = []
let connectStart = monotonicNow()
for index in 0..<connections {
    channels.append(try await bootstrap.connect(host: host, port: port).get())
    if index % 50 == 49 { try await Task.sleep(for: .milliseconds(20)) }
}
while subscribed.load(ordering: .relaxed) < connections, monotonicNow() < connectStart + 120 {
    try await Task.sleep(for: .milliseconds(100))
}
let ready = subscribed.load(ordering: .relaxed)
try await Task.sleep(for: .seconds(2))
let rssIdle = serverRSS(serverPID)
say("subscribed: \(ready)/\(connections) in \(Int(monotonicNow() - connectStart)) s; server RSS \(rssBefore / 1_048_576) MiB before, \(rssIdle / 1_048_576) MiB with the clients idle: \((rssIdle - rssBefore) / max(1, ready) / 1024) KiB per connection")

// The publisher: one connection, one publish frame per tick, each carrying its due time.
let cpuStart = serverCPUSeconds(serverPID)
let wallStart = monotonicNow()
let publishedInWindow = Atomic<Int>(0)
try await WebSocketClient.connect(url: url, logger: logger) { inbound, outbound, _ in
    let start = monotonicNow()
    let interval = 1.0 / Double(rate)
    let end = start + warmup + Double(seconds)
    measureFrom.store((start + warmup).bitPattern, ordering: .relaxed)
    measureUntil.store(end.bitPattern, ordering: .relaxed)
    let drain = Task { for try await _ in inbound {} }
    var tick = 0
    while true {
        let due = start + Double(tick) * interval
        if due >= end { break }
        let wait = due - monotonicNow()
        if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
        if due >= start + warmup { publishedInWindow.add(1, ordering: .relaxed) }
        let price = 60_000 + Double(tick % 1000) / 10
        try await outbound.write(.text(
            #"{"type":"publish","channel":"\#(channel)","metadata":{"due":\#(due)},"data":{"symbol":"BTC-USD","price":\#(price),"source":"coinbase","timestamp":"2026-01-27T10:30:05.123Z"}}"#))
        tick += 1
    }
    // Whatever is still queued for slow connections gets a moment to arrive before the count.
    try await Task.sleep(for: .seconds(2))
    drain.cancel()
}
let cpu = (serverCPUSeconds(serverPID) - cpuStart) / (monotonicNow() - wallStart)
let rssEnd = serverRSS(serverPID)
for channel in channels { try? await channel.close() }
// A client that fell behind still has frames to read: its result comes when it has closed.
let collectDeadline = monotonicNow() + 30
while results.withLock({ $0.count }) < channels.count, monotonicNow() < collectDeadline {
    try await Task.sleep(for: .milliseconds(100))
}
let all = results.withLock { $0 }
let latencies = all.flatMap(\.latencies).sorted()
func percentile(_ p: Double, of latencies: [Double]) -> Double {
    latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] * 1000
}
let received = all.reduce(0) { $0 + $1.receivedInWindow }
let expected = publishedInWindow.load(ordering: .relaxed) * ready
say(String(
    format: "ws fan-out: %d connections, %d events/s, %d s: %.0f deliveries/s; latency vs schedule p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms; missing %d of %d (gaps seen %d), duplicates %d; server CPU %.0f%% of a core, RSS %d MiB",
    ready, rate, seconds, Double(received) / Double(seconds), percentile(0.5, of: latencies), percentile(0.99, of: latencies), percentile(0.999, of: latencies),
    (latencies.last ?? .nan) * 1000, max(0, expected - received), expected, all.reduce(0) { $0 + $1.gaps },
    all.reduce(0) { $0 + $1.duplicates }, cpu * 100, rssEnd / 1_048_576))
try await group.shutdownGracefully()
