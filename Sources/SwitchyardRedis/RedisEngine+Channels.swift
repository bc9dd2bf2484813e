import Logging
import RedisClient
import Switchyard
import Synchronization

/// What an engine knows of the channel registry (`switchyard:channels`, docs/wire-format.md):
/// the channels it has registered, and when it last scanned the keyspace for each pattern.
final class ChannelRegistryState: Sendable {
    struct State {
        var registered: Set<ChannelName> = []
        var scannedAt: [ChannelPattern: ContinuousClock.Instant] = [:]
        /// The registry was refused (`NOPERM`): keep publishing, stop trying, warn once.
        var refused = false
    }

    let state = Mutex(State())

    /// The channels of `channels` not registered by this engine yet. Called on every publish:
    /// once every channel is registered it allocates nothing.
    func unregistered(_ channels: some Sequence<ChannelName>) -> [ChannelName] {
        let missing = state.withLock { state in state.refused ? [] : channels.filter { !state.registered.contains($0) } }
        return missing.isEmpty ? missing : Set(missing).sorted()
    }

    func markRegistered(_ channels: [ChannelName]) {
        state.withLock { $0.registered.formUnion(channels) }
    }

    /// Whether `pattern`'s keyspace scan is due, marking it done when it is.
    func scanDue(_ pattern: ChannelPattern, every interval: Duration?) -> Bool {
        let now = ContinuousClock.now
        return state.withLock { state in
            if let last = state.scannedAt[pattern] {
                guard let interval, now - last >= interval else { return false }
            }
            state.scannedAt[pattern] = now
            return true
        }
    }

    /// Records a refusal; `true` the first time.
    func refuse() -> Bool {
        state.withLock { state in
            defer { state.refused = true }
            return !state.refused
        }
    }
}

extension RedisEngine {
    /// The set of every channel name with a stream: publishers add a channel (`SADD`) after its
    /// first store from their process, and pattern consumers read it (`SSCAN MATCH`) instead of
    /// scanning the keyspace. It has no hash tag: one key, on one slot of a cluster.
    public static let channelRegistryKey = "switchyard:channels"

    /// The channels with a `stream:{C}` key matching a pattern: `EXISTS` for a pattern without glob
    /// characters; for a glob, the channel registry, plus a keyspace scan on the first look at the
    /// pattern and every ``Configuration/keyspaceScanInterval`` after (for streams other writers
    /// made without registering them; those are registered then).
    public func channels(matching patterns: [ChannelPattern]) async throws(SwitchyardError) -> [ChannelName] {
        var found = Set<ChannelName>()
        do {
            for pattern in patterns {
                if pattern.isLiteral, let channel = try? ChannelName(pattern.rawValue) {
                    if try await client.execute(GenericCommand("EXISTS", RedisKeys(channel).stream)).int == 1 { found.insert(channel) }
                    continue
                }
                let registered = try await registeredChannels(matching: pattern)
                found.formUnion(registered)
                guard registry.scanDue(pattern, every: configuration.keyspaceScanInterval) else { continue }
                let scanned = try await scanStreams(matching: pattern)
                found.formUnion(scanned)
                await register(scanned.subtracting(registered))
            }
        } catch {
            throw SwitchyardError.redis(error, "listing channels")
        }
        return found.sorted()
    }

    /// The registry's members matching `pattern` (`SSCAN switchyard:channels … MATCH PATTERN`).
    private func registeredChannels(matching pattern: ChannelPattern) async throws -> Set<ChannelName> {
        try await scanAll(pattern) { cursor in
            try await client.execute(SSCAN(Self.channelRegistryKey, cursor: cursor, pattern: pattern.rawValue, count: 1000))
        } named: { name in try? ChannelName(name) }
    }

    /// The channels of the `stream:{C}` keys matching `pattern` (`SCAN MATCH stream:{PATTERN} TYPE stream`).
    private func scanStreams(matching pattern: ChannelPattern) async throws -> Set<ChannelName> {
        try await scanAll(pattern) { cursor in
            try await client.execute(SCAN(cursor: cursor, pattern: "stream:{\(pattern.rawValue)}", count: 1000, type: "stream"))
        } named: { key in RedisKeys.channel(ofStreamKey: key) }
    }

    /// Runs a cursor scan to its end, keeping the names `channel` reads as channels matching `pattern`.
    private func scanAll(
        _ pattern: ChannelPattern, _ fetch: (String) async throws -> SCAN.Page, named channel: (String) -> ChannelName?
    ) async throws -> Set<ChannelName> {
        var found = Set<ChannelName>()
        var cursor = "0"
        repeat {
            let page = try await fetch(cursor)
            for name in page.keys {
                if let match = channel(name), pattern.matches(match) { found.insert(match) }
            }
            cursor = page.cursor
        } while cursor != "0"
        return found
    }

    /// Adds to the registry the channels this engine has not registered yet. A failure never fails
    /// the publish that stored them: an unreachable Redis is tried again with the next publish, and a
    /// refusal (an ACL user without the registry, `NOPERM`) is logged once, after which pattern
    /// consumers find those channels by their keyspace scan.
    func register(_ channels: some Sequence<ChannelName>) async {
        let missing = registry.unregistered(channels)
        guard !missing.isEmpty else { return }
        do {
            _ = try await client.execute(SADD(Self.channelRegistryKey, members: missing.map(\.rawValue)))
            registry.markRegistered(missing)
        } catch let error as RedisError where error.code == .serverError {
            if registry.refuse() {
                logger.warning(
                    "the channel registry refused this client: pattern consumers find its new channels only by scanning the keyspace",
                    metadata: ["key": "\(Self.channelRegistryKey)", "error": "\(error)"])
            }
        } catch {
            logger.debug("a channel could not be registered yet", metadata: ["error": "\(error)"])
        }
    }
}
