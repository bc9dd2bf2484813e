/// One consumer group on one channel in the embedded engine.
struct GroupState {
    struct Pending {
        var consumer: String
        var deliveries: Int
        var deliveredAt: Int64
    }

    /// The last stream entry delivered to the group.
    var lastDelivered: EntryID
    /// Entries delivered and not acked, by id.
    var pending: [EntryID: Pending] = [:]
    /// Requeued dead letters waiting to be delivered again, oldest first, with ids of their own.
    var requeued: [(id: EntryID, envelope: Envelope)] = []
    /// Requeued events that are pending (they are not in the stream).
    var requeuedPending: [EntryID: Envelope] = [:]

    init(lastDelivered: EntryID) {
        self.lastDelivered = lastDelivered
    }
}
