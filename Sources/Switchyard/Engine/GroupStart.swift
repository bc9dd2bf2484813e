/// Where a new consumer group starts reading a channel.
public enum GroupStart: Sendable, Hashable {
    /// With the oldest entry retained, so nothing already stored is missed.
    case beginning
    /// With the next entry appended after the group is created.
    case newest
}
