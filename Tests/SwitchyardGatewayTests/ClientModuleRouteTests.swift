import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Switchyard
import Testing

@testable import SwitchyardGateway

/// `GET /v1/client.js`, the browser client: what the gateway serves, that it is the file in
/// `clients/js`, and what the client relies on from the gateway.
@Suite struct ClientModuleRouteTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func fetch(_ client: some TestClientProtocol, _ uri: String, headers: HTTPFields = [:]) async throws -> ConsoleRouteTests.Fetched {
        try await ConsoleRouteTests.fetch(client, uri, headers: headers)
    }

    static func bytes(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: root.appendingPathComponent(path)))
    }

    @Test func theModuleIsServedAsJavaScriptThatCachesAndOtherOriginsMayImport() async throws {
        let source = try Self.bytes("Sources/SwitchyardGateway/Resources/client/switchyard.js")
        try await TestGateway().test { client in
            try await client.execute(uri: "/v1/client.js", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/javascript; charset=utf-8")
                #expect(response.headers[.cacheControl] == "public, max-age=300")
                #expect(response.headers[.eTag] == ClientModule.entityTag)
                #expect(response.headers[.accessControlAllowOrigin] == "*")
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
                #expect(Array(response.body.readableBytesView) == source)
            }
        }
    }

    /// One source of truth: the gateway's resource is the module; `clients/js/switchyard.js` is a
    /// copy for apps that bundle it, and must not drift.
    @Test func theFileInClientsJSIsTheServedModuleByteForByte() throws {
        let served = try Self.bytes("Sources/SwitchyardGateway/Resources/client/switchyard.js")
        #expect(!served.isEmpty)
        #expect(ClientModule.bytes == served, "the bundle's module is not the source file")
        let shipped = try Self.bytes("clients/js/switchyard.js")
        #expect(
            shipped == served,
            "clients/js/switchyard.js differs from Sources/SwitchyardGateway/Resources/client/switchyard.js: copy the resource over it (cp Sources/SwitchyardGateway/Resources/client/switchyard.js clients/js/)")
    }

    @Test func aMatchingIfNoneMatchIsAnsweredNotModified() async throws {
        try await TestGateway().test { client in
            let same = try await Self.fetch(client, "/v1/client.js", headers: [.ifNoneMatch: ClientModule.entityTag])
            #expect(same.status == .notModified)
            #expect(same.text.isEmpty)
            let listed = try await Self.fetch(client, "/v1/client.js", headers: [.ifNoneMatch: "\"0123\", \(ClientModule.entityTag)"])
            #expect(listed.status == .notModified)
            let other = try await Self.fetch(client, "/v1/client.js", headers: [.ifNoneMatch: "\"0123\""])
            #expect(other.status == .ok)
            #expect(other.text.contains("export class SwitchyardClient"))
        }
    }

    /// The module loads without credentials; a handshake with a refused token is a 401 before the
    /// upgrade, which the client learns by asking the same URL with a plain GET.
    @Test func theModuleNeedsNoCredentialsAndAPlainGetOfTheWebSocketSaysWhetherATokenIsRefused() async throws {
        let gateway = try TestGateway(authenticator: try await TestAuth.authenticator())
        try await gateway.test { client in
            #expect(try await Self.fetch(client, "/v1/client.js").status == .ok)
            let refused = try await client.send(.get, "/v1/ws?token=not-a-key")
            #expect(refused.status == .unauthorized)
            #expect(refused.errorType == "unauthorized")
            let missing = try await client.send(.get, "/v1/ws")
            #expect(missing.status == .unauthorized)
            let accepted = try await client.send(.get, "/v1/ws?token=\(TestAuth.apiKey)")
            #expect(accepted.status != .unauthorized && accepted.status != .forbidden, "\(accepted.status)")
        }
    }

    @Test func theModuleInsertsNoMarkupAndNamesNoOtherOrigin() throws {
        let text = String(decoding: try Self.bytes("Sources/SwitchyardGateway/Resources/client/switchyard.js"), as: UTF8.self)
        for banned in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "http://", "https://", "import("] {
            #expect(!text.contains(banned), "the module contains \(banned)")
        }
        #expect(!text.contains("\nimport "), "the module imports nothing")
    }

    /// The console's live connection is the client: it imports the module and opens no WebSocket of its own.
    @Test func theConsoleUsesTheModuleForItsLiveConnection() async throws {
        try await TestGateway().test { client in
            let live = try await Self.fetch(client, "/console/live.js").text
            #expect(live.contains(#"from "/v1/client.js""#))
            for name in ConsoleAssets.contentTypes.keys {
                let text = try await Self.fetch(client, name == "index.html" ? "/" : "/console/\(name)").text
                #expect(!text.contains("new WebSocket"), "\(name) opens a WebSocket of its own")
            }
        }
    }
}
