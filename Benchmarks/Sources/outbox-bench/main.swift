import Foundation
import JSONSchema
import Logging
import PostgresNIO
import RedisClient
import Switchyard
import SwitchyardPostgres
import SwitchyardRedis

// outbox-bench: the transactional outbox and relay, measured the way ../shared/baseline/py_outbox_baseline.py
// measures its own (same tables' work per transaction: one trade row and one outbox row, synchronous_commit on).
//
//   outbox-bench write CONNS SECONDS [PATH]   committed business transactions per second, CONNS connections
//   outbox-bench lag RATE SECONDS [PATH]      one relay running, paced writers offering RATE events/s; the lag is
//                                             archive.published_at (the relay's archive transaction, right after
//                                             Redis stored the batch) minus outbox.created_at (the writer's BEGIN)
// PATH is how a transaction is written: `commit` (default), Outbox.commit, one round trip; `transaction`,
// Outbox.withTransaction, a round trip each for BEGIN, the trade insert, the outbox insert and COMMIT.
// Like the baseline, each writer holds one connection for the whole run, and each run starts on empty
// tables after a CHECKPOINT (so no checkpoint started by an earlier run's WAL flushes under this one).
// Needs POSTGRES_URL (a database it may use) and REDIS_URL. Prints one JSON line per run.

let arguments = CommandLine.arguments
let usage = "usage: outbox-bench write CONNS SECONDS [commit|transaction] | lag RATE SECONDS [commit|transaction]"
guard arguments.count == 4 || arguments.count == 5, let first = Int(arguments[2]), let seconds = Double(arguments[3]) else {
    print(usage)
    exit(2)
}
let path = arguments.count == 5 ? arguments[4] : "commit"
guard path == "commit" || path == "transaction" else {
    print(usage)
    exit(2)
}
var logger = Logger(label: "outbox-bench")
logger.logLevel = .warning
let environment = ProcessInfo.processInfo.environment
let url = try PostgresURL(environment["POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5441/bench")
let channel = try ChannelName("trades.executed")
let schema: JSONValue = [
    "type": "object", "required": ["trade_id", "ticker", "side", "qty", "price"],
    "properties": [
        "trade_id": ["type": "string"], "ticker": ["type": "string"], "side": ["enum": ["buy", "sell"]],
        "qty": ["type": "integer", "minimum": 1], "price": ["type": "number"],
    ],
]
let contracts = try ContractRegistry([try Contract(channel: try ChannelPattern("trades.executed"), schema: schema, policy: ChannelPolicy(retentionSeconds: 3600))])
let client = PostgresClient(configuration: { var c = url.clientConfiguration; c.options.maximumConnections = 32; return c }(), backgroundLogger: logger)

func payload(_ i: Int) -> JSONValue {
    ["trade_id": .string(UUID().uuidString.lowercased()), "ticker": "AAPL", "side": i & 1 == 1 ? "buy" : "sell",
     "qty": .int(Int64(1 + i % 100)), "price": .double(100.0 + Double(i % 500) / 10.0)]
}

/// One business transaction, the trade row and its event, on a connection the writer holds (as each
/// of the baseline's writers holds its own).
func writeOne(_ outbox: Outbox, _ i: Int, on connection: PostgresConnection) async throws {
    let data = payload(i)
    let tradeID = data["trade_id"]!.stringValue!, side = data["side"]!.stringValue!
    let qty = 1 + i % 100, price = 100.0 + Double(i % 500) / 10.0
    if path == "commit" {
        try await outbox.commit(
            ["INSERT INTO bench_trades (trade_id, ticker, side, qty, price) VALUES (\(tradeID)::uuid, 'AAPL', \(side), \(qty), \(price))"],
            emitting: [OutboxEvent(to: channel, payload: data)], on: connection)
        return
    }
    try await Outbox.withTransaction(on: connection, payloadGuard: outbox.payloadGuard, logger: logger) { tx in
        try await tx.connection.query(
            "INSERT INTO bench_trades (trade_id, ticker, side, qty, price) VALUES (\(tradeID)::uuid, 'AAPL', \(side), \(qty), \(price))",
            logger: logger)
        try await tx.emit(to: channel, payload: data)
    }
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))]
}

try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { await client.run() }
    defer { group.cancelAll() }
    try await Migrations.apply(client: client, logger: logger)
    try await client.query("""
        CREATE TABLE IF NOT EXISTS bench_trades (id bigserial PRIMARY KEY, trade_id uuid NOT NULL, ticker text NOT NULL,
            side text NOT NULL, qty integer NOT NULL, price numeric(18,6) NOT NULL, executed_at timestamptz NOT NULL DEFAULT now())
        """)
    try await client.query("TRUNCATE bench_trades, switchyard.outbox, switchyard.archive, switchyard.quarantine")
    try await client.query("CHECKPOINT")
    let outbox = Outbox(client: client, contracts: contracts, logger: logger)

    switch arguments[1] {
    case "write":
        let connections = first
        let deadline = ContinuousClock.now + .seconds(seconds)
        let total = try await withThrowingTaskGroup(of: Int.self) { writers in
            for writer in 0..<connections {
                writers.addTask {
                    try await client.withConnection { connection in
                        var n = 0
                        while ContinuousClock.now < deadline {
                            try await writeOne(outbox, writer * 1_000_000 + n, on: connection)
                            n += 1
                        }
                        return n
                    }
                }
            }
            var total = 0
            for try await n in writers { total += n }
            return total
        }
        print(#"{"kind":"write","path":"\#(path)","conns":\#(connections),"seconds":\#(seconds),"committed":\#(total),"events_per_s":\#(Int(Double(total) / seconds))}"#)

    case "lag":
        let rate = Double(first)
        let redis = try RedisClient(configuration: try RedisConfiguration(url: environment["REDIS_URL"] ?? "redis://127.0.0.1:6391"), logger: logger)
        let engine = RedisEngine(client: redis, logger: logger)
        let router = Router(
            contracts: contracts, engine: engine, configuration: RouterConfiguration(source: "oms", enforcesRateLimits: false), logger: logger)
        let relay = Relay(postgres: try url.connectionConfiguration(), router: router, configuration: Relay.Configuration(), logger: logger)
        group.addTask { try await router.run() }
        group.addTask { try await relay.run() }
        try await Task.sleep(for: .seconds(1))
        let count = Int(rate * seconds)
        let behind = try await client.withConnection { connection in
            let start = ContinuousClock.now
            var behind = Duration.zero
            for i in 0..<count {
                let due = start + .seconds(Double(i) / rate)
                let now = ContinuousClock.now
                if now < due { try await Task.sleep(until: due) } else { behind = max(behind, now - due) }
                try await writeOne(outbox, i, on: connection)
            }
            return behind
        }
        func archived() async throws -> Int {
            var n = 0
            for try await value in try await client.query("SELECT count(*)::int8 FROM switchyard.archive").decode(Int.self) { n = value }
            return n
        }
        while try await archived() < count {
            try await Task.sleep(for: .milliseconds(50))
        }
        var lags: [Double] = []
        for try await lag in try await client.query(
            "SELECT extract(epoch FROM published_at - created_at)::float8 * 1000 FROM switchyard.archive"
        ).decode(Double.self) { lags.append(lag) }
        lags.sort()
        func ms(_ value: Double) -> String { String(format: "%.2f", value) }
        print(#"{"kind":"lag","path":"\#(path)","offered_rate":\#(Int(rate)),"events":\#(count),"writer_max_behind_ms":\#(ms(Double(behind.components.attoseconds) / 1e15 + Double(behind.components.seconds) * 1000)),"lag_p50_ms":\#(ms(percentile(lags, 50))),"lag_p99_ms":\#(ms(percentile(lags, 99))),"lag_max_ms":\#(ms(lags.last ?? .nan))}"#)

    default:
        print(usage)
    }
}
