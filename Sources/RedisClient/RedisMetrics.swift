import CoreMetrics
import NIOCore

/// The client's metric objects, created once when the client is created.
///
/// Names: `redis_commands_total`, `redis_command_errors_total` (label `kind`: `server`,
/// `connection`, `timeout`, `other`), `redis_command_duration_seconds`, `redis_connections`
/// (open connections), `redis_connect_failures_total`, `redis_reconnects_total`,
/// `redis_subscription_dropped_total`, and on a cluster `redis_cluster_retries_total` (label
/// `reason`: `moved`, `ask`, `tryagain`, `clusterdown`, `unreachable`) and `redis_cluster_topology_refreshes_total`.
struct RedisMetrics: Sendable {
    /// The metrics of connections opened without a client, created on first use.
    static let standalone = RedisMetrics()

    let commands: Counter
    let serverErrors: Counter
    let connectionErrors: Counter
    let timeoutErrors: Counter
    let otherErrors: Counter
    let duration: Timer
    let connections: Meter
    let connectFailures: Counter
    let reconnects: Counter
    let droppedMessages: Counter
    let movedRetries: Counter
    let askRetries: Counter
    let tryAgainRetries: Counter
    let clusterDownRetries: Counter
    let unreachableRetries: Counter
    let topologyRefreshes: Counter

    init(dimensions: [(String, String)] = []) {
        self.commands = Counter(label: "redis_commands_total", dimensions: dimensions)
        self.serverErrors = Counter(label: "redis_command_errors_total", dimensions: dimensions + [("kind", "server")])
        self.connectionErrors = Counter(label: "redis_command_errors_total", dimensions: dimensions + [("kind", "connection")])
        self.timeoutErrors = Counter(label: "redis_command_errors_total", dimensions: dimensions + [("kind", "timeout")])
        self.otherErrors = Counter(label: "redis_command_errors_total", dimensions: dimensions + [("kind", "other")])
        self.duration = Timer(label: "redis_command_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
        self.connections = Meter(label: "redis_connections", dimensions: dimensions)
        self.connectFailures = Counter(label: "redis_connect_failures_total", dimensions: dimensions)
        self.reconnects = Counter(label: "redis_reconnects_total", dimensions: dimensions)
        self.droppedMessages = Counter(label: "redis_subscription_dropped_total", dimensions: dimensions)
        self.movedRetries = Counter(label: "redis_cluster_retries_total", dimensions: dimensions + [("reason", "moved")])
        self.askRetries = Counter(label: "redis_cluster_retries_total", dimensions: dimensions + [("reason", "ask")])
        self.tryAgainRetries = Counter(label: "redis_cluster_retries_total", dimensions: dimensions + [("reason", "tryagain")])
        self.clusterDownRetries = Counter(label: "redis_cluster_retries_total", dimensions: dimensions + [("reason", "clusterdown")])
        self.unreachableRetries = Counter(label: "redis_cluster_retries_total", dimensions: dimensions + [("reason", "unreachable")])
        self.topologyRefreshes = Counter(label: "redis_cluster_topology_refreshes_total", dimensions: dimensions)
    }

    func recordCommands(_ count: Int, since start: NIODeadline) {
        self.commands.increment(by: count)
        self.duration.recordNanoseconds((NIODeadline.now() - start).nanoseconds)
    }

    func recordCommandFailure(_ error: any Error, since start: NIODeadline) {
        self.commands.increment()
        self.duration.recordNanoseconds((NIODeadline.now() - start).nanoseconds)
        guard let error = error as? RedisError else {
            self.otherErrors.increment()
            return
        }
        switch error.code {
        case .serverError: self.serverErrors.increment()
        case .connectionClosed, .connectionFailed, .protocolError: self.connectionErrors.increment()
        case .timeout: self.timeoutErrors.increment()
        default: self.otherErrors.increment()
        }
    }

    func connectionOpened(channel: any Channel) {
        self.connections.increment()
        let connections = self.connections
        channel.closeFuture.whenComplete { _ in connections.decrement() }
    }

    func connectFailed() {
        self.connectFailures.increment()
    }
}
