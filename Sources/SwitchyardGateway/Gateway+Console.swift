import Hummingbird

extension Gateway {
    /// `GET /`: the live web console; `GET /console/{file}`: its script and style sheet. Open to
    /// everyone like `/healthz` (they hold no data): the page asks for a token when the API needs one.
    func addConsoleRoutes(to routes: Hummingbird.Router<GatewayRequestContext>) {
        routes.get("/") { _, _ in try ConsoleAssets.response("index.html") }
        routes.get("/console/:file") { _, context in
            try ConsoleAssets.response(context.parameters.get("file") ?? "")
        }
    }
}
