import Switchyard

extension Principal {
    /// Refuses unless the principal may publish to `channel`.
    /// - Throws: `forbidden` (403) naming the channel.
    func requirePublish(_ channel: ChannelName) throws(SwitchyardError) {
        guard grants.mayPublish(to: channel) else {
            throw SwitchyardError(
                .forbidden, "'\(subject)' may not publish to '\(channel)'",
                details: ["channel": .string(channel.rawValue), "grant": "publish"])
        }
    }

    /// Refuses unless the principal may read `channel`.
    /// - Throws: `forbidden` (403) naming the channel.
    func requireRead(_ channel: ChannelName) throws(SwitchyardError) {
        guard grants.mayRead(channel) else {
            throw SwitchyardError(
                .forbidden, "'\(subject)' may not read '\(channel)'",
                details: ["channel": .string(channel.rawValue), "grant": "subscribe"])
        }
    }

    /// The envelope `source` of what this principal publishes: its subject, or `nil` (the
    /// gateway's own source) when anonymous.
    var publishSource: String? { isAnonymous ? nil : subject }
}

extension GatewayRequestContext {
    /// The authenticated principal.
    /// - Throws: `unauthorized` when no authenticator ran (a route outside the middleware).
    func requirePrincipal() throws(SwitchyardError) -> Principal {
        guard let principal else { throw SwitchyardError(.unauthorized, "the request is not authenticated") }
        return principal
    }
}
