import Switchyard

/// Who made a request, and what they may do: the identity an ``Authenticator`` gives a request.
public struct Principal: Sendable, Hashable {
    /// The token subject, API key name, or `anonymous`; it becomes the envelope `source` of the
    /// events this principal publishes, and the actor in logs and the audit trail.
    public var subject: String
    /// The channels this principal may publish to and read.
    public var grants: Grants

    /// Creates a principal.
    public init(subject: String, grants: Grants) {
        self.subject = subject
        self.grants = grants
    }
}

/// Publish and subscribe grants as channel patterns, in Redis glob syntax (`trades:*`, `quotes.*`).
///
/// A channel is allowed when any pattern of the list matches it. Reads (replay, latest, dead
/// letters, WebSocket subscriptions) need a subscribe grant; publishes, requeues and drops need a
/// publish grant.
public struct Grants: Sendable, Hashable {
    /// The channels the holder may publish to.
    public var publish: [ChannelPattern]
    /// The channels the holder may read.
    public var subscribe: [ChannelPattern]

    /// Creates grants.
    public init(publish: [ChannelPattern], subscribe: [ChannelPattern]) {
        self.publish = publish
        self.subscribe = subscribe
    }

    /// Every channel, both ways.
    public static let all = Grants(publish: [.everything], subscribe: [.everything])
    /// Nothing.
    public static let none = Grants(publish: [], subscribe: [])

    /// Whether the holder may publish to `channel`.
    public func mayPublish(to channel: ChannelName) -> Bool {
        publish.contains { $0.matches(channel) }
    }

    /// Whether the holder may read `channel`.
    public func mayRead(_ channel: ChannelName) -> Bool {
        subscribe.contains { $0.matches(channel) }
    }
}

extension ChannelPattern {
    /// `*`: every channel.
    static let everything = try! ChannelPattern("*")
}
