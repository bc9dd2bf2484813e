import NIOCore
import NIOPosix
import Synchronization

/// The benchmark's WebSocket clients: connected and subscribed before the first event is due,
/// counted while they run, closed and collected at the end.
final class WebSocketClients: Sendable {
    /// What the clients' event loop and the benchmark share.
    final class Shared: Sendable {
        let subscribed = Atomic<Int>(0)
        let delivered = Atomic<Int>(0)
        let results = Mutex<[WebSocketClientResult]>([])
    }

    private let group: MultiThreadedEventLoopGroup?
    private let channels: [any Channel]
    private let shared: Shared

    private init(group: MultiThreadedEventLoopGroup?, channels: [any Channel], shared: Shared) {
        self.group = group
        self.channels = channels
        self.shared = shared
    }

    /// Clients whose subscription was confirmed.
    var subscribed: Int { shared.subscribed.load(ordering: .relaxed) }
    /// Distinct events received so far, over every client.
    var delivered: Int { shared.delivered.load(ordering: .relaxed) }

    /// Connects `count` clients to `url` and waits (up to a minute) until each is subscribed.
    /// With `keepsDueTimes`, each client keeps the due time of every latency it records.
    static func connect(
        url: String?, count: Int, patterns: [String], authorization: String?, expected: Int,
        window: @escaping @Sendable () -> MeasureWindow, keepsDueTimes: Bool = false, progress: @Sendable (String) -> Void
    ) async throws -> WebSocketClients {
        let shared = Shared()
        guard count > 0, let url else {
            return WebSocketClients(group: nil, channels: [], shared: shared)
        }
        guard let address = WebSocketAddress(url) else { throw BenchError("--gateway must be a ws://HOST:PORT/PATH URL") }
        progress("connecting \(count) WebSocket clients to \(url)")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ClientBootstrap(group: group).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(WebSocketLoadClient(
                    path: address.path, host: address.host, authorization: authorization, patterns: patterns, expected: expected,
                    window: window, onSubscribed: { shared.subscribed.add(1, ordering: .relaxed) },
                    onEvent: { shared.delivered.add(1, ordering: .relaxed) },
                    finished: { result in shared.results.withLock { $0.append(result) } }, keepsDueTimes: keepsDueTimes))
            }
        }
        var channels: [any Channel] = []
        do {
            for index in 0..<count {
                channels.append(try await bootstrap.connect(host: address.host, port: address.port).get())
                if index % 50 == 49 { try await Task.sleep(for: .milliseconds(20)) }
            }
        } catch {
            for channel in channels { try? await channel.close() }
            try? await group.shutdownGracefully()
            throw BenchError("could not connect to the gateway at \(url): \(error)")
        }
        let deadline = monotonicNow() + 60
        while shared.subscribed.load(ordering: .relaxed) < count, monotonicNow() < deadline,
              shared.results.withLock({ $0.count }) < count {
            try await Task.sleep(for: .milliseconds(20))
        }
        progress("\(shared.subscribed.load(ordering: .relaxed))/\(count) WebSocket clients subscribed")
        return WebSocketClients(group: group, channels: channels, shared: shared)
    }

    /// Closes every client and returns what each saw; `nil` when there were none.
    func finish() async -> [WebSocketClientResult]? {
        guard let group else { return nil }
        for channel in channels { try? await channel.close() }
        let deadline = monotonicNow() + 30
        while shared.results.withLock({ $0.count }) < channels.count, monotonicNow() < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        try? await group.shutdownGracefully()
        return shared.results.withLock { $0 }
    }
}
