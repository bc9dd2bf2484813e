import RedisClient
import Switchyard

extension RedisEngine {
    /// Removes the dedup marks of events, so that publishing them again stores them again.
    ///
    /// For repairs only: an event removed from its stream by hand (`XDEL`) keeps its dedup mark,
    /// which would turn a re-publish into a duplicate. Call it only for events known to be absent
    /// from the stream.
    /// - Returns: How many marks were removed.
    /// - Throws: ``Switchyard/SwitchyardError`` `engine_unavailable` when Redis cannot be reached.
    @discardableResult
    public func forgetDedupMarks(_ eventIDs: [EventID], on channel: ChannelName) async throws(SwitchyardError) -> Int {
        guard !eventIDs.isEmpty else { return 0 }
        let keys = RedisKeys(channel)
        do {
            return try await client.execute(DEL(keys: eventIDs.map { keys.dedup($0) }))
        } catch {
            throw SwitchyardError.redis(error, "DEL dedup marks")
        }
    }
}
