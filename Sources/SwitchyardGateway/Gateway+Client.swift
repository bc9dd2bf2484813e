import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Switchyard

/// The browser client, `Resources/client/switchyard.js`, served at `/v1/client.js`: an ES module
/// with subscriptions, gap-free resume and dedup by `event_id` over `/v1/ws` (docs/clients.md).
/// `clients/js/switchyard.js` is the same file, byte for byte, for apps that bundle it.
enum ClientModule {
    /// The module's bytes, read from the bundle on first use; empty when the bundle lacks it.
    static let bytes: [UInt8] = {
        guard let folder = Bundle.module.url(forResource: "client", withExtension: nil),
            let data = try? Data(contentsOf: folder.appendingPathComponent("switchyard.js"))
        else { return [] }
        return Array(data)
    }()

    /// A strong validator of the bytes: the first 128 bits of their SHA-256, quoted.
    static let entityTag: String = {
        "\"" + SHA256.hash(data: bytes).prefix(16).map { String(format: "%02x", $0) }.joined() + "\""
    }()

    /// The response to `GET /v1/client.js`: the module, or 304 when `If-None-Match` names it.
    /// - Throws: ``Switchyard/SwitchyardError`` `internal_error` when the bundle lacks the file.
    static func response(_ request: Request) throws(SwitchyardError) -> Response {
        guard !bytes.isEmpty else {
            throw SwitchyardError(.internalError, "the browser client is missing from the bundle")
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/javascript; charset=utf-8"
        headers[.cacheControl] = "public, max-age=300"
        headers[.eTag] = entityTag
        headers[.xContentTypeOptions] = "nosniff"
        // Module scripts are fetched with CORS: a dashboard on another allowed origin may import it.
        headers[.accessControlAllowOrigin] = "*"
        let given = request.headers[values: .ifNoneMatch].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        if given.contains(entityTag) || given.contains("*") {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

extension Gateway {
    /// `GET /v1/client.js`: the browser client. Open to everyone like the console's files (it
    /// holds no data): the page gives the client its token.
    func addClientRoutes(to routes: Hummingbird.Router<GatewayRequestContext>) {
        routes.get("/v1/client.js") { request, _ in try ClientModule.response(request) }
    }
}
