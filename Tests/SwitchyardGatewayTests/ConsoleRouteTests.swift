import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Switchyard
import Testing

@testable import SwitchyardGateway

/// The live console's files: `/`, `/console/app.js`, `/console/app.css`.
@Suite struct ConsoleRouteTests {
    struct Fetched {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let text: String
    }

    static func fetch(_ client: some TestClientProtocol, _ uri: String, headers: HTTPFields = [:]) async throws -> Fetched {
        try await client.execute(uri: uri, method: .get, headers: headers, body: nil) { response in
            Fetched(status: response.status, headers: response.headers, text: String(buffer: response.body))
        }
    }

    @Test func rootServesTheConsolePageAsHTML() async throws {
        try await TestGateway().test { client in
            let page = try await Self.fetch(client, "/")
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            #expect(page.headers[.xContentTypeOptions] == "nosniff")
            #expect(page.text.hasPrefix("<!doctype html>"))
            #expect(page.text.contains(#"<script type="module" src="/console/app.js">"#))
            #expect(page.text.contains(#"href="/console/app.css""#))
            for id in ["channels-body", "groups-body", "tail-body", "dlq-body", "alerts-body", "state-body", "ws-status"] {
                #expect(page.text.contains(#"id="\#(id)""#), "the page lacks #\(id)")
            }
        }
    }

    @Test func scriptsAndStyleSheetAreServedWithTheirContentTypes() async throws {
        try await TestGateway().test { client in
            #expect(ConsoleAssets.contentTypes.count == 9)
            var scripts = ""
            for (name, type) in ConsoleAssets.contentTypes where name != "index.html" {
                let file = try await Self.fetch(client, "/console/\(name)")
                #expect(file.status == .ok, "\(name)")
                #expect(file.headers[.contentType] == type, "\(name)")
                #expect(type == (name.hasSuffix(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8"))
                #expect(!file.text.isEmpty, "\(name)")
                if name.hasSuffix(".js") { scripts += file.text }
            }
            for module in ["state.js", "dom.js", "api.js", "panels.js", "live.js"] {
                #expect(scripts.contains(#"from "./\#(module)""#), "no module imports \(module)")
            }
            for route in ["/v1/client.js", "/v1/channels", "/v1/groups", "/v1/dlq/", "/v1/alerts", "/v1/health/services"] {
                #expect(scripts.contains(route), "the console does not use \(route)")
            }
        }
    }

    /// Data from events reaches the page as text only, and nothing is loaded from another origin.
    @Test func assetsInsertNoMarkupAndLoadNothingFromElsewhere() async throws {
        try await TestGateway().test { client in
            for name in ConsoleAssets.contentTypes.keys {
                let text = try await Self.fetch(client, name == "index.html" ? "/" : "/console/\(name)").text
                #expect(!text.contains("innerHTML") && !text.contains("outerHTML") && !text.contains("insertAdjacentHTML"), "\(name)")
                #expect(!text.contains("document.write") && !text.contains("eval("), "\(name)")
                let external = text.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "")
                #expect(!external.contains("http://") && !external.contains("https://") && !external.contains("@import"), "\(name) refers to another origin")
            }
        }
    }

    @Test func anUnknownConsoleFileIsNotFound() async throws {
        try await TestGateway().test { client in
            let answer = try await client.send(.get, "/console/secrets.json")
            #expect(answer.status == .notFound)
            #expect(answer.errorType == "not_found")
            #expect(answer.json["details"]?["file"] == "secrets.json")
        }
    }

    /// With credentials required, the page and its files still load (they hold no data); the
    /// API behind them asks for the token.
    @Test func theConsoleLoadsWithoutCredentialsWhileTheAPIRequiresThem() async throws {
        let gateway = try TestGateway(authenticator: try await TestAuth.authenticator())
        try await gateway.test { client in
            #expect(try await Self.fetch(client, "/").status == .ok)
            for name in ConsoleAssets.contentTypes.keys where name != "index.html" {
                #expect(try await Self.fetch(client, "/console/\(name)").status == .ok, "\(name)")
            }
            let channels = try await client.send(.get, "/v1/channels")
            #expect(channels.status == .unauthorized)
            let authorized = try await client.send(.get, "/v1/channels", headers: [.authorization: "Bearer \(TestAuth.apiKey)"])
            #expect(authorized.status == .ok)
        }
    }
}
