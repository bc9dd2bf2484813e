import Logging
import RedisClient
import Switchyard
import Synchronization

/// What an engine knows of the channel registry (`switchyard:channels`, docs/wire-format.md):
/// the channels it has registered, and its one periodic keyspace scan.
final class ChannelRegistryState: Sendable {
    struct State {
        var registered: Set<ChannelName> = []
        /// When the last keyspace scan started; `nil` before the first.
        var scannedAt: ContinuousClock.Instant?
        /// Streams the last keyspace scan found that could not be added to the registry.
        var scannedUnregistered: Set<ChannelName> = []
        /// The registry was refused (`NOPERM`): keep publishing, stop trying, warn once.
        var refused = false
    }

    let state = Mutex(State())

    /// The channels of `channels` not registered by this engine yet, or `nil` once the registry
    /// refused this client. Called on every publish: once every channel is registered it allocates nothing.
    func unregistered(_ channels: some Sequence<ChannelName>) -> [ChannelName]? {
        let missing = state.withLock { state in state.refused ? nil : channels.filter { !state.registered.contains($0) } }
        guard let missing else { return nil }
        return missing.isEmpty ? missing : Set(missing).sorted()
    }

    func markRegistered(_ channels: [ChannelName]) {
        state.withLock { $0.registered.formUnion(channels) }
    }

    /// Whether the keyspace scan is due, marking it started when it is; returns when the previous
    /// one started, to put back if this one fails.
    func keyspaceScanDue(every interval: Duration?) -> (due: Bool, previous: ContinuousClock.Instant?) {
        let now = ContinuousClock.now
        return state.withLock { state in
            let previous = state.scannedAt
            if let previous {
                guard let interval, now - previous >= interval else { return (false, previous) }
            }
            state.scannedAt = now
            return (true, previous)
        }
    }

    /// Records a finished keyspace scan and the streams it found that the registry lacks.
    func keyspaceScanFinished(unregistered: Set<ChannelName>) {
        state.withLock { $0.scannedUnregistered = unregistered }
    }

    /// Makes the keyspace scan due again after a failed one.
    func keyspaceScanFailed(previous: ContinuousClock.Instant?) {
        state.withLock { $0.scannedAt = previous }
    }

    /// The streams of the last keyspace scan missing from the registry that match `pattern`.
    func scannedUnregistered(matching pattern: ChannelPattern) -> [ChannelName] {
        state.withLock { $0.scannedUnregistered.filter { pattern.matches($0) } }
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
    /// characters; for a glob, the members of the channel registry that match it.
    ///
    /// Streams that other writers made without registering them are found by one keyspace scan per
    /// engine (`SCAN MATCH stream:{*} TYPE stream`), run by the first glob lookup and then at most every
    /// ``Configuration/keyspaceScanInterval``, whatever the patterns: what it finds is registered, so
    /// every pattern matches it in the registry. A new pattern costs no scan.
    public func channels(matching patterns: [ChannelPattern]) async throws(SwitchyardError) -> [ChannelName] {
        var found = Set<ChannelName>()
        do {
            if patterns.contains(where: { !$0.isLiteral }) { try await scanKeyspaceIfDue() }
            for pattern in patterns {
                if pattern.isLiteral, let channel = try? ChannelName(pattern.rawValue) {
                    if try await client.execute(GenericCommand("EXISTS", RedisKeys(channel).stream)).int == 1 { found.insert(channel) }
                    continue
                }
                found.formUnion(try await registeredChannels(matching: pattern))
                found.formUnion(registry.scannedUnregistered(matching: pattern))
            }
        } catch {
            throw SwitchyardError.redis(error, "listing channels")
        }
        return found.sorted()
    }

    /// The registry's members matching `pattern` (`SSCAN switchyard:channels … MATCH PATTERN`).
    private func registeredChannels(matching pattern: ChannelPattern) async throws -> Set<ChannelName> {
        var found = Set<ChannelName>()
        try await scanAll { cursor in
            try await client.execute(SSCAN(Self.channelRegistryKey, cursor: cursor, pattern: pattern.rawValue, count: 1000))
        } page: { names in
            for name in names {
                if let channel = try? ChannelName(name), pattern.matches(channel) { found.insert(channel) }
            }
        }
        return found
    }

    /// The engine's keyspace scan, when due: every `stream:{C}` key (`SCAN MATCH stream:{*} TYPE
    /// stream`, on every primary of a cluster), then registered; what the registry does not take is
    /// kept in memory until the next scan. Counted in `switchyard_keyspace_scans_total`.
    private func scanKeyspaceIfDue() async throws {
        let (due, previous) = registry.keyspaceScanDue(every: configuration.keyspaceScanInterval)
        guard due else { return }
        keyspaceScans.increment()
        var unregistered = Set<ChannelName>()
        do {
            // SCAN walks one node's keyspace: on a cluster every primary is scanned, in parallel.
            let perNode = try await client.forEachPrimary { connection in
                var keys: [String] = []
                var cursor = "0"
                repeat {
                    let page = try await connection.execute(SCAN(cursor: cursor, pattern: "stream:{*}", count: 1000, type: "stream"))
                    keys += page.keys
                    cursor = page.cursor
                } while cursor != "0"
                return keys
            }
            let channels = perNode.joined().compactMap(RedisKeys.channel(ofStreamKey:))
            if !(await register(channels)) { unregistered.formUnion(channels) }
        } catch {
            registry.keyspaceScanFailed(previous: previous)
            throw error
        }
        registry.keyspaceScanFinished(unregistered: unregistered)
    }

    /// Runs a cursor scan to its end, handing each page's names to `page`.
    private func scanAll(_ fetch: (String) async throws -> SCAN.Page, page: ([String]) async -> Void) async throws {
        var cursor = "0"
        repeat {
            let next = try await fetch(cursor)
            await page(next.keys)
            cursor = next.cursor
        } while cursor != "0"
    }

    /// Adds to the registry the channels this engine has not registered yet. A failure never fails
    /// the publish that stored them: an unreachable Redis is tried again with the next publish, and a
    /// refusal (an ACL user without the registry, `NOPERM`) is logged once, after which pattern
    /// consumers find those channels by their keyspace scan.
    /// Returns whether all of them are in the registry now.
    @discardableResult
    func register(_ channels: some Sequence<ChannelName>) async -> Bool {
        guard let missing = registry.unregistered(channels) else { return false }
        guard !missing.isEmpty else { return true }
        do {
            _ = try await client.execute(SADD(Self.channelRegistryKey, members: missing.map(\.rawValue)))
            registry.markRegistered(missing)
            return true
        } catch let error as RedisError where error.code == .serverError {
            if registry.refuse() {
                logger.warning(
                    "the channel registry refused this client: pattern consumers find its new channels only by scanning the keyspace",
                    metadata: ["key": "\(Self.channelRegistryKey)", "error": "\(error)"])
            }
        } catch {
            logger.debug("a channel could not be registered yet", metadata: ["error": "\(error)"])
        }
        return false
    }
}
