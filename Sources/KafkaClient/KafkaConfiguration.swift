import Foundation

/// Where the brokers are and how to talk to them: what every producer, consumer and admin client
/// is made from.
public struct KafkaConfiguration: Sendable {
    /// The brokers to start from, `host:port,host:port` (librdkafka's `bootstrap.servers`).
    public var bootstrapServers: String
    /// The name the client gives the brokers (librdkafka's `client.id`); `switchyard` by default.
    public var clientID: String
    /// More librdkafka settings (`security.protocol`, `sasl.mechanism`, `message.timeout.ms`, …),
    /// applied last, so they override this layer's own.
    public var properties: [String: String]
    /// The librdkafka to load; `nil` for `SWITCHYARD_LIBRDKAFKA`, then the system's (see ``KafkaLibrary``).
    public var libraryPath: String?

    /// A configuration.
    public init(bootstrapServers: String, clientID: String = "switchyard", properties: [String: String] = [:], libraryPath: String? = nil) {
        self.bootstrapServers = bootstrapServers
        self.clientID = clientID
        self.properties = properties
        self.libraryPath = libraryPath
    }

    /// A configuration from a URL: `kafka://host:port,host:port`, or a bare `host:port[,…]`.
    ///
    /// Query items become ``properties``: `kafka://b1:9093?security.protocol=SSL&ssl.ca.location=/ca.pem`.
    /// - Throws: ``KafkaError`` with code ``KafkaError/invalidConfiguration`` for another scheme,
    ///   credentials in the URL (give SASL settings as query items), or a broker without a port.
    public init(url: String) throws(KafkaError) {
        var rest = Substring(url)
        if let separator = rest.range(of: "://") {
            let scheme = rest[..<separator.lowerBound].lowercased()
            guard scheme == "kafka" else {
                throw KafkaError(code: KafkaError.invalidConfiguration, message: "a Kafka URL starts with kafka://, not \(scheme)://")
            }
            rest = rest[separator.upperBound...]
        }
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("@") else {
            throw KafkaError(
                code: KafkaError.invalidConfiguration,
                message: "a Kafka URL carries no credentials: give them as query items (sasl.username, sasl.password)")
        }
        let brokers = rest.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        for broker in brokers where !Self.hasPort(broker) {
            throw KafkaError(code: KafkaError.invalidConfiguration, message: "'\(broker)' in a Kafka URL is not host:port")
        }
        var properties: [String: String] = [:]
        for item in query.split(separator: "&") where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0]).removingPercentEncoding ?? String(parts[0])
            let value = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
            guard !name.isEmpty else {
                throw KafkaError(code: KafkaError.invalidConfiguration, message: "a Kafka URL has a query item without a name")
            }
            properties[name] = value
        }
        self.init(bootstrapServers: brokers.joined(separator: ","), properties: properties)
    }

    /// Whether `broker` is `host:port` or `[v6 address]:port`, with a port from 1 to 65535.
    private static func hasPort(_ broker: String) -> Bool {
        guard let colon = broker.lastIndex(of: ":"), colon != broker.startIndex else { return false }
        let host = broker[..<colon]
        if host.contains(":") && !(host.hasPrefix("[") && host.hasSuffix("]")) { return false }
        guard let port = Int(broker[broker.index(after: colon)...]) else { return false }
        return (1...65535).contains(port)
    }

    /// The settings every handle starts from, then `own` (the handle kind's), then ``properties``.
    func settings(_ own: [(String, String)]) -> [(String, String)] {
        [("bootstrap.servers", self.bootstrapServers), ("client.id", self.clientID)] + own
            + self.properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}
