import Switchyard

/// How the Kafka engine names its topics.
///
/// A channel's events go to the topic its contract names (`policy.kafka.topic`), or to
/// ``eventPrefix`` followed by the channel's name with `:` written as `..` (a channel never has an
/// empty segment, so `..` reads back as `:` without ambiguity): `market_data:btc_price` →
/// `switchyard.market_data..btc_price`. The engine's own topics start with ``systemPrefix``: one
/// topic of dead letters per channel, one compacted topic of state keys and one of group starts.
public struct KafkaTopicNames: Sendable, Hashable {
    /// The prefix of channel topics without a topic of their own. Default `switchyard.`.
    public var eventPrefix: String
    /// The prefix of the engine's own topics. Default `switchyard-`.
    public var systemPrefix: String
    /// The prefix of the Kafka consumer group that holds a Switchyard group's committed offsets.
    /// Default `switchyard.`: group `billing` commits as `switchyard.billing`.
    public var groupPrefix: String

    /// Creates a naming scheme.
    public init(eventPrefix: String = "switchyard.", systemPrefix: String = "switchyard-", groupPrefix: String = "switchyard.") {
        self.eventPrefix = eventPrefix
        self.systemPrefix = systemPrefix
        self.groupPrefix = groupPrefix
    }

    /// The topic of a channel's events.
    public func events(_ channel: ChannelName, policy: ChannelPolicy.Kafka?) -> String {
        policy?.topic ?? eventPrefix + Self.encode(channel)
    }

    /// The topic of a channel's dead letters.
    public func deadLetters(_ channel: ChannelName) -> String {
        systemPrefix + "dead-letters." + Self.encode(channel)
    }

    /// The compacted topic of state keys.
    public var state: String { systemPrefix + "state" }

    /// The compacted topic that records each group's start on each channel.
    public var groups: String { systemPrefix + "groups" }

    /// The Kafka consumer group of a Switchyard group.
    public func consumerGroup(_ group: String) -> String { groupPrefix + group }

    /// The channel a default-named topic holds, or `nil` for any other topic.
    public func channel(ofTopic topic: String) -> ChannelName? {
        guard topic.hasPrefix(eventPrefix) else { return nil }
        let encoded = topic.dropFirst(eventPrefix.count)
        return try? ChannelName(String(encoded).replacing("..", with: ":"))
    }

    static func encode(_ channel: ChannelName) -> String {
        channel.rawValue.replacing(":", with: "..")
    }
}
