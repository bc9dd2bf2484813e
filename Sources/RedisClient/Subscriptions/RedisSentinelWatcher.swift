import Logging
import NIOCore
import RESP

/// Keeps a connection to one of the Sentinels subscribed to `+switch-master`, and when they fail the
/// monitored primary over, tells the client at once: the pool closes its idle connections and the
/// subscription connection reconnects, both to the primary the Sentinels name now.
///
/// Without it a failover is still followed, later: a connection to a primary that died fails, and
/// one to a primary that was demoted closes at its first `READONLY` reply; every new connection
/// asks the Sentinels where the primary is.
struct RedisSentinelWatcher: Sendable {
    let sentinel: RedisConfiguration.Sentinel
    let factory: RedisConnectionFactory
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger
    /// Called, on a connection's event loop, when the Sentinels have switched the primary.
    let onSwitch: @Sendable (_ from: String, _ to: String) -> Void

    /// Watches until the task is cancelled, reconnecting with backoff to the next Sentinel that answers.
    func run() async {
        var backoff = RedisBackoff(self.factory.configuration.reconnect)
        while !Task.isCancelled {
            do {
                let connection = try await self.factory.connectToSentinel(self.sentinel, on: self.eventLoopGroup.any()) { value in
                    self.handlePush(value)
                }
                if await connection.protocolVersion == 2 { await connection.setSubscriberMode(true) }
                var encoder = connection.makeEncoder()
                encoder.encode("SUBSCRIBE", "+switch-master")
                let reply = try await connection.sendSubscribe(encoder.finish(), confirmations: 1)
                if let message = reply.errorMessage { throw RedisError(.serverError, serverMessage: message) }
                backoff.reset()
                await withTaskCancellationHandler {
                    await connection.waitForClose()
                } onCancel: {
                    connection.channel.close(mode: .all, promise: nil)
                }
            } catch {
                self.logger.debug("redis sentinel watch failed", metadata: ["error": "\(error)"])
            }
            if Task.isCancelled { break }
            try? await Task.sleep(for: backoff.next())
        }
    }

    /// `+switch-master` says `<name> <old-ip> <old-port> <new-ip> <new-port>`.
    func handlePush(_ value: RESPValue) {
        guard let (message, _) = RedisPubSubMessage.parse(value), message.channel == "+switch-master",
            let change = Self.parseSwitch(String(buffer: message.payload)), change.name == self.sentinel.primaryName
        else { return }
        self.logger.info("redis sentinel switched the primary", metadata: [
            "redis.primary": "\(change.name)", "redis.from": "\(change.from)", "redis.to": "\(change.to)",
        ])
        self.onSwitch(change.from.description, change.to.description)
    }

    /// The primary's name and its old and new addresses, from a `+switch-master` message.
    static func parseSwitch(_ text: String) -> (name: String, from: RedisConfiguration.Endpoint, to: RedisConfiguration.Endpoint)? {
        let words = text.split(separator: " ")
        guard words.count == 5, let oldPort = Int(words[2]), let newPort = Int(words[4]) else { return nil }
        return (String(words[0]), .init(host: String(words[1]), port: oldPort), .init(host: String(words[3]), port: newPort))
    }
}
