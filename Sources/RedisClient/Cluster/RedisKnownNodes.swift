import Synchronization

/// The nodes of a cluster seen in its slot map, shared by the factories of one client, so that a
/// new connection finds a live node when the configured ones are gone.
final class RedisKnownNodes: Sendable {
    private let nodes = Mutex<[RedisConfiguration.Endpoint]>([])

    /// Every node seen last: primaries first, then replicas.
    var all: [RedisConfiguration.Endpoint] { self.nodes.withLock { $0 } }

    /// Replaces the nodes with those of `topology`.
    func learn(_ topology: RedisClusterTopology) {
        let nodes = topology.primaries + topology.shards.flatMap(\.replicas)
        self.nodes.withLock { $0 = nodes }
    }
}
