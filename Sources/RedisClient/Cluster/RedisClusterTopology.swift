import RESP

/// Which node of a Redis Cluster serves each hash slot: the primaries and their replicas, read from
/// `CLUSTER SHARDS` (Redis 7) or `CLUSTER SLOTS`.
public struct RedisClusterTopology: Sendable, Hashable {
    /// One primary, its replicas, and the slot ranges it serves.
    public struct Shard: Sendable, Hashable {
        /// The primary's address.
        public var primary: RedisConfiguration.Endpoint
        /// The replicas' addresses (those that are online, when the server says).
        public var replicas: [RedisConfiguration.Endpoint]
        /// The slot ranges the primary serves.
        public var slots: [ClosedRange<Int>]
    }

    /// The shards that serve at least one slot.
    public private(set) var shards: [Shard]
    /// For each slot, the index of its shard in ``shards``, or -1 when no node serves it.
    private var owners: [Int16]

    /// Creates a topology from shards.
    public init(shards: [Shard]) {
        self.shards = shards.filter { !$0.slots.isEmpty }
        self.owners = [Int16](repeating: -1, count: RedisClusterSlot.count)
        for (index, shard) in self.shards.enumerated() {
            for range in shard.slots where range.lowerBound >= 0 && range.upperBound < RedisClusterSlot.count {
                for slot in range { self.owners[slot] = Int16(index) }
            }
        }
    }

    /// The primary that serves `slot`, or `nil` when no node does.
    public func primary(ofSlot slot: Int) -> RedisConfiguration.Endpoint? {
        let owner = self.owners[slot]
        return owner < 0 ? nil : self.shards[Int(owner)].primary
    }

    /// The shard that serves `slot`, or `nil` when no node does.
    public func shard(ofSlot slot: Int) -> Shard? {
        let owner = self.owners[slot]
        return owner < 0 ? nil : self.shards[Int(owner)]
    }

    /// Whether every slot has a node.
    public var coversAllSlots: Bool { !self.owners.contains(-1) }

    /// The primaries, in the order of ``shards``.
    public var primaries: [RedisConfiguration.Endpoint] { self.shards.map(\.primary) }

    /// Moves `slot` to `primary` (after a `MOVED` reply), adding a shard for a primary not known yet.
    mutating func assign(slot: Int, to primary: RedisConfiguration.Endpoint) {
        if let index = self.shards.firstIndex(where: { $0.primary == primary }) {
            self.owners[slot] = Int16(index)
        } else {
            self.shards.append(Shard(primary: primary, replicas: [], slots: [slot...slot]))
            self.owners[slot] = Int16(self.shards.count - 1)
        }
    }

    /// Reads a `CLUSTER SHARDS` reply. A node's address is its `endpoint` (or `ip`), and `tls-port`
    /// when `tls` is set and the node has one, else `port`; replicas that are not `online` are left out.
    /// - Throws: ``RedisError`` with ``RedisError/Code/unexpectedResponse`` for another shape.
    public init(shardsReply reply: RESPValue, tls: Bool = false) throws(RedisError) {
        guard let shardValues = reply.elements else { throw .unexpected(reply, expected: "CLUSTER SHARDS array") }
        var shards: [Shard] = []
        for shardValue in shardValues {
            guard let fields = shardValue.pairs else { throw .unexpected(shardValue, expected: "CLUSTER SHARDS map") }
            func field(_ name: String) -> RESPValue? { fields.first { $0.key.string == name }?.value }
            let bounds = field("slots")?.elements?.compactMap(\.int) ?? []
            guard bounds.count % 2 == 0 else { throw .unexpected(reply, expected: "slot ranges in pairs") }
            let slots = stride(from: 0, to: bounds.count, by: 2).compactMap { bounds[$0] <= bounds[$0 + 1] ? bounds[$0]...bounds[$0 + 1] : nil }
            var primary: RedisConfiguration.Endpoint?
            var replicas: [RedisConfiguration.Endpoint] = []
            for node in field("nodes")?.elements ?? [] {
                guard let nodeFields = node.pairs else { continue }
                func nodeField(_ name: String) -> RESPValue? { nodeFields.first { $0.key.string == name }?.value }
                let host = nodeField("endpoint")?.string.flatMap { $0.isEmpty || $0 == "?" ? nil : $0 } ?? nodeField("ip")?.string
                let port = (tls ? nodeField("tls-port")?.int : nil) ?? nodeField("port")?.int
                guard let host, let port, port > 0 else { continue }
                let endpoint = RedisConfiguration.Endpoint(host: host, port: port)
                let health = nodeField("health")?.string ?? "online"
                if nodeField("role")?.string == "master" {
                    if health != "failed" { primary = endpoint }
                } else if health == "online" {
                    replicas.append(endpoint)
                }
            }
            if let primary, !slots.isEmpty { shards.append(Shard(primary: primary, replicas: replicas, slots: slots)) }
        }
        self.init(shards: shards)
    }

    /// Reads a `CLUSTER SLOTS` reply: `[start, end, [host, port, id, …], replica…]` per range.
    /// - Throws: ``RedisError`` with ``RedisError/Code/unexpectedResponse`` for another shape.
    public init(slotsReply reply: RESPValue) throws(RedisError) {
        guard let ranges = reply.elements else { throw .unexpected(reply, expected: "CLUSTER SLOTS array") }
        var shards: [Shard] = []
        for range in ranges {
            guard let items = range.elements, items.count >= 3, let start = items[0].int, let end = items[1].int, start <= end else {
                throw .unexpected(range, expected: "CLUSTER SLOTS range")
            }
            let nodes = items[2...].compactMap { node -> RedisConfiguration.Endpoint? in
                guard let parts = node.elements, parts.count >= 2, let host = parts[0].string, let port = parts[1].int else { return nil }
                return RedisConfiguration.Endpoint(host: host, port: port)
            }
            guard let primary = nodes.first else { continue }
            if let index = shards.firstIndex(where: { $0.primary == primary }) {
                shards[index].slots.append(start...end)
            } else {
                shards.append(Shard(primary: primary, replicas: Array(nodes.dropFirst()), slots: [start...end]))
            }
        }
        self.init(shards: shards)
    }
}

/// Where a cluster node sent a command: `MOVED` (the slot lives elsewhere now) or `ASK` (this one
/// key is being migrated; ask the target once, after `ASKING`).
struct RedisClusterRedirect: Sendable, Hashable {
    enum Kind: Sendable, Hashable { case moved, ask }
    var kind: Kind
    var slot: Int
    var endpoint: RedisConfiguration.Endpoint

    init(kind: Kind, slot: Int, endpoint: RedisConfiguration.Endpoint) {
        self.kind = kind
        self.slot = slot
        self.endpoint = endpoint
    }

    /// Reads `MOVED 3999 127.0.0.1:6381` or `ASK 3999 127.0.0.1:6381`; an empty host means the
    /// node that replied (`MOVED 3999 :6381`), which `replying` names.
    init?(_ error: RedisError, replying: RedisConfiguration.Endpoint) {
        guard error.code == .serverError, let message = error.serverMessage else { return nil }
        let words = message.split(separator: " ")
        guard words.count >= 3, let slot = Int(words[1]), (0..<RedisClusterSlot.count).contains(slot) else { return nil }
        switch words[0] {
        case "MOVED": self.kind = .moved
        case "ASK": self.kind = .ask
        default: return nil
        }
        let address = words[2]
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else { return nil }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.slot = slot
        self.endpoint = RedisConfiguration.Endpoint(host: host.isEmpty ? replying.host : host, port: port)
    }
}
