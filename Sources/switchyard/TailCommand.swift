import ArgumentParser
import Foundation
import HummingbirdWSClient
import JSONSchema
import Logging
import RedisClient
import Switchyard
import SwitchyardRedis
import SwitchyardServer
import Synchronization

/// `switchyard tail PATTERN… [--since SEQ|RFC3339] [--json] [--server URL | --redis URL]`.
struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Follow the events of channels matching patterns, live.",
        discussion: """
            Through a gateway's /v1/ws with --server (default http://127.0.0.1:8080), or straight \
            from Redis with --redis. Prints one line per event (time, channel, #sequence, data), \
            or each envelope as a JSON line with --json. A gap (history trimmed past the start) \
            is reported on standard error.

            Exit codes: 0 after --count events; 1 when the server or Redis cannot be reached, \
            refuses the subscription, or the connection ends; 64 for bad arguments.
            """
    )

    @Argument(help: ArgumentHelp("Channel names or globs (`trades:*`).", valueName: "PATTERN"))
    var patterns: [String]
    @Option(help: ArgumentHelp("Start with history: a sequence number (per channel) or an RFC 3339 time.", valueName: "SEQ|RFC3339"))
    var since: String?
    @Flag(help: "Print each envelope as one JSON line.")
    var json = false
    @Option(help: ArgumentHelp("The gateway to follow through /v1/ws.", valueName: "URL"))
    var server: String?
    @Option(help: ArgumentHelp("Follow Redis directly instead of a gateway.", valueName: "URL"))
    var redis: String?
    @Option(help: ArgumentHelp("Credentials for the gateway, sent as the `token` query parameter (default: $SWITCHYARD_TOKEN).", valueName: "TOKEN"))
    var token: String?
    @Option(help: ArgumentHelp("Exit after this many events.", valueName: "N"))
    var count: Int?
    @OptionGroup var options: GlobalOptions

    func validate() throws {
        guard !patterns.isEmpty else { throw ValidationError("give at least one channel or pattern") }
        for pattern in patterns where (try? ChannelPattern(pattern)) == nil {
            throw ValidationError("'\(pattern)' is not a channel pattern")
        }
        guard server == nil || redis == nil else { throw ValidationError("use --server or --redis, not both") }
        if let since, TailStart(since) == nil { throw ValidationError("--since must be a sequence number or an RFC 3339 time, not '\(since)'") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
    }

    func run() async throws {
        let patterns = try patterns.map { try ChannelPattern($0) }
        let start = since.flatMap(TailStart.init)
        var printer = TailPrinter(json: json, limit: count)
        do {
            if let redis {
                try await tailRedis(url: redis, patterns: patterns, start: start, printer: &printer)
            } else {
                try await tailServer(url: server ?? "http://127.0.0.1:8080", patterns: patterns, start: start, printer: &printer)
            }
        } catch let error as SwitchyardError {
            printError(error.body)
            throw ExitCode(1)
        } catch is TailPrinter.Done {
            return
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError(SwitchyardError(.engineUnavailable, "tail failed: \(error)").body)
            throw ExitCode(1)
        }
        if !printer.isDone { throw ExitCode(1) }
    }

    // MARK: Redis

    private func tailRedis(url: String, patterns: [ChannelPattern], start: TailStart?, printer: inout TailPrinter) async throws {
        var logger = Logger(label: "switchyard-tail")
        logger.logLevel = .error
        let engine = try EngineSettings(redisURL: url).makeRedisEngine(logger: logger)
        let router = try makeRouter(
            on: engine, contractsDirectory: try options.settings().contracts, configuration: RouterConfiguration(source: "switchyard-tail"), logger: logger)
        let output = try await withThrowingTaskGroup(of: TailPrinter?.self) { group -> TailPrinter? in
            group.addTask {
                try await router.run()
                return nil
            }
            group.addTask { [printer] in
                var printer = printer
                let from = try await Self.startingPoints(engine, patterns: patterns, start: start)
                do {
                    for try await envelope in router.subscribe(patterns, from: from) {
                        try printer.print(envelope)
                    }
                } catch is TailPrinter.Done {}
                return printer
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let printer = result { return printer }
            }
            return nil
        }
        if let output { printer = output }
    }

    /// Per channel matching the patterns, the first sequence number `start` stands for.
    private static func startingPoints(_ engine: any Engine, patterns: [ChannelPattern], start: TailStart?) async throws -> [ChannelName: Int64] {
        guard let start else { return [:] }
        var from: [ChannelName: Int64] = [:]
        for channel in try await engine.channels(matching: patterns) {
            switch start {
            case .sequence(let number):
                from[channel] = number
            case .time(let time):
                if let first = try await engine.read(channel, from: .time(time), limit: 1).first {
                    from[channel] = first.envelope.sequenceNumber
                } else {
                    from[channel] = try await engine.info(channel).lastSequenceNumber + 1
                }
            }
        }
        return from
    }

    // MARK: Server

    private func tailServer(url: String, patterns: [ChannelPattern], start: TailStart?, printer: inout TailPrinter) async throws {
        var resume: JSONObject = [:]
        switch start {
        case .sequence(let number)?:
            for pattern in patterns where pattern.isLiteral { resume[pattern.rawValue] = .int(max(0, number - 1)) }
        case .time?:
            throw SwitchyardError(.badRequest, "--since with a time needs --redis; through --server give a sequence number")
        case nil:
            break
        }
        let subscribe: JSONValue = ["type": "subscribe", "patterns": .array(patterns.map { .string($0.rawValue) }), "resume": .object(resume)]
        var wsURL = url
        if wsURL.hasPrefix("http://") { wsURL = "ws://" + wsURL.dropFirst(7) } else if wsURL.hasPrefix("https://") { wsURL = "wss://" + wsURL.dropFirst(8) }
        if !wsURL.hasSuffix("/v1/ws") { wsURL = (wsURL.hasSuffix("/") ? String(wsURL.dropLast()) : wsURL) + "/v1/ws" }
        if let token = token ?? EnvironmentVariables()["SWITCHYARD_TOKEN"], !token.isEmpty {
            var allowed = CharacterSet.urlQueryAllowed
            allowed.remove(charactersIn: "&+=?#")
            wsURL += "?token=" + (token.addingPercentEncoding(withAllowedCharacters: allowed) ?? token)
        }
        var logger = Logger(label: "switchyard-tail")
        logger.logLevel = .error
        let outcome = TailOutcome()
        let endpoint = wsURL.split(separator: "?").first.map(String.init) ?? wsURL
        let close: WebSocketCloseFrame?
        do {
            close = try await follow(url: wsURL, subscribe: subscribe, printer: printer, outcome: outcome, logger: logger)
        } catch {
            throw SwitchyardError(.engineUnavailable, "the gateway at \(endpoint) could not be reached or refused the upgrade: \(error)")
        }
        let (final, error) = outcome.value
        if let final { printer = final }
        if let error {
            printError(error)
            throw ExitCode(1)
        }
        if !printer.isDone {
            let reason = close.map { "the connection closed (\($0.closeCode)\($0.reason.map { ": \($0)" } ?? ""))" } ?? "the connection closed"
            printError(SwitchyardError(.engineUnavailable, reason).body)
            throw ExitCode(1)
        }
    }

    /// Subscribes over one WebSocket connection and prints its events until the count or the close.
    private func follow(
        url wsURL: String, subscribe: JSONValue, printer initial: TailPrinter, outcome: TailOutcome, logger: Logger
    ) async throws -> WebSocketCloseFrame? {
        try await WebSocketClient.connect(url: wsURL, configuration: .init(maxFrameSize: 8 << 20), logger: logger) { inbound, outbound, _ in
            var printer = initial
            defer { outcome.set(printer, nil) }
            try await outbound.write(.text(subscribe.compactText))
            for try await message in inbound.messages(maxSize: 8 << 20) {
                guard case .text(let text) = message, let frame = try? JSONValue(parsing: Array(text.utf8)) else { continue }
                switch frame["type"]?.stringValue {
                case "event":
                    guard let body = frame["envelope"], let envelope = try? Envelope(json: body) else { continue }
                    do { try printer.print(envelope) } catch {
                        outcome.set(printer, nil)
                        return
                    }
                case "gap":
                    FileHandle.standardError.write(Data("gap on \(frame["channel"]?.stringValue ?? "?"): events \(frame["from"]?.doubleValue.map { Int64($0) } ?? 0) to \(frame["to"]?.doubleValue.map { Int64($0) } ?? 0) are no longer retained\n".utf8))
                case "refused":
                    let reason = frame["error"]?["error_type"]?.stringValue ?? "refused"
                    FileHandle.standardError.write(Data("refused on \(frame["channel"]?.stringValue ?? "?") #\(frame["sequence_number"]?.doubleValue.map { Int64($0) } ?? 0): \(reason) (withheld by the gateway)\n".utf8))
                case "error":
                    outcome.set(printer, frame["error"])
                    return
                default:
                    continue
                }
            }
        }
    }

    private func printError(_ body: JSONValue) {
        FileHandle.standardError.write(Data((body.compactText + "\n").utf8))
    }
}

/// Where `--since` starts.
enum TailStart {
    case sequence(Int64)
    case time(Timestamp)

    init?(_ text: String) {
        if let number = Int64(text), number >= 0 {
            self = .sequence(number)
        } else if let time = Timestamp(rfc3339: text) {
            self = .time(time)
        } else {
            return nil
        }
    }
}

/// Prints events, one line each, and stops after a count.
struct TailPrinter: Sendable {
    struct Done: Error {}

    let json: Bool
    let limit: Int?
    private(set) var printed = 0

    init(json: Bool, limit: Int?) {
        self.json = json
        self.limit = limit
    }

    var isDone: Bool { limit.map { printed >= $0 } ?? false }

    /// Prints one event; throws ``Done`` once the count is reached.
    mutating func print(_ envelope: Envelope) throws {
        let line = json
            ? envelope.encoded()
            : "\(envelope.timestamp) \(envelope.channel) #\(envelope.sequenceNumber) \(envelope.data.compactText)"
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
        printed += 1
        if isDone { throw Done() }
    }
}

/// What the WebSocket handler leaves behind for the command.
final class TailOutcome: Sendable {
    private let state = Mutex<(TailPrinter?, JSONValue?)>((nil, nil))
    func set(_ printer: TailPrinter, _ error: JSONValue?) {
        state.withLock { $0 = (printer, error ?? $0.1) }
    }
    var value: (TailPrinter?, JSONValue?) { state.withLock { $0 } }
}

extension JSONValue {
    var compactText: String {
        var bytes: [UInt8] = []
        write(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
