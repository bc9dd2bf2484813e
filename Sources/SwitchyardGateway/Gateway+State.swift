import Hummingbird
import JSONSchema
import Switchyard

extension Gateway {
    /// Registers the named state routes ([docs/state.md](docs/state.md)).
    func addStateRoutes(to routes: Hummingbird.Router<GatewayRequestContext>) {
        routes.get("/v1/state") { _, context in try await self.stateKeys(context) }
        routes.put("/v1/state/:key") { request, context in try await self.putState(request, context) }
        routes.get("/v1/state/:key") { _, context in try await self.getState(context) }
    }

    /// `PUT /v1/state/{key}`: the body is the JSON value; needs a publish grant for the key.
    /// Answers `{"key", "ttl", "ttl_seconds"}`.
    func putState(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let key = try stateKeyParameter(context)
        try requirePublish(principal, key, attempted: "state_write")
        let body = try await collect(request, limit: ChannelPolicy.defaultMaxSizeBytes + configuration.bodySlackBytes)
        let receipt = try await router.state.set(key, try parseJSON(body))
        return jsonResponse(RouterReports.stateReceipt(receipt))
    }

    /// `GET /v1/state/{key}`: the value and its remaining TTL, else 404; needs a subscribe grant.
    func getState(_ context: GatewayRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let key = try stateKeyParameter(context)
        try principal.requireRead(key)
        guard let value = try await router.state.get(key) else {
            throw SwitchyardError(.notFound, "state key '\(key)' has no value (missing or expired)", details: ["key": .string(key.rawValue)])
        }
        return jsonResponse(RouterReports.stateValue(value))
    }

    /// `GET /v1/state`: the state-key table, with the current values of the plain keys the caller may read.
    func stateKeys(_ context: GatewayRequestContext) async throws -> Response {
        let grants = try context.requirePrincipal().grants
        return jsonResponse(try await RouterReports(router: router).stateKeys(readable: grants.mayRead))
    }

    /// The `{key}` path parameter as a state key.
    /// - Throws: `invalid_channel` (400) when it is not a valid key name.
    func stateKeyParameter(_ context: GatewayRequestContext) throws(SwitchyardError) -> StateKey {
        try StateKey(context.parameters.get("key") ?? "")
    }
}
