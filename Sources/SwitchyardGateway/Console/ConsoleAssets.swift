import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Switchyard

/// The live web console's files, bundled in `Resources/console` and served as they are: no build
/// step, nothing loaded from another origin.
enum ConsoleAssets {
    /// One file of the console.
    struct Asset: Sendable {
        let contentType: String
        let bytes: [UInt8]
    }

    /// The files by the name they are served under, `/console/NAME` (the page itself at `/`): the
    /// style sheet, and the script as ES modules, `app.js` importing the others.
    static let contentTypes: [String: String] = [
        "index.html": "text/html; charset=utf-8",
        "app.css": "text/css; charset=utf-8",
        "app.js": "text/javascript; charset=utf-8",
        "state.js": "text/javascript; charset=utf-8",
        "dom.js": "text/javascript; charset=utf-8",
        "api.js": "text/javascript; charset=utf-8",
        "panels.js": "text/javascript; charset=utf-8",
        "live.js": "text/javascript; charset=utf-8",
        "state-keys.js": "text/javascript; charset=utf-8",
    ]

    /// The files, read from the bundle on first use.
    static let files: [String: Asset] = {
        guard let folder = Bundle.module.url(forResource: "console", withExtension: nil) else { return [:] }
        var files: [String: Asset] = [:]
        for (name, type) in contentTypes {
            if let data = try? Data(contentsOf: folder.appendingPathComponent(name)) {
                files[name] = Asset(contentType: type, bytes: Array(data))
            }
        }
        return files
    }()

    /// The page's policy: scripts, styles and connections from this origin only.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    /// The response for one file.
    /// - Throws: ``Switchyard/SwitchyardError`` `not_found` for a name the console does not have,
    ///   `internal_error` when the bundle lacks a file.
    static func response(_ name: String) throws(SwitchyardError) -> Response {
        guard contentTypes[name] != nil else {
            throw SwitchyardError(.notFound, "the console has no file '\(name)'", details: ["file": .string(name)])
        }
        guard let asset = files[name] else {
            throw SwitchyardError(.internalError, "the console file '\(name)' is missing from the bundle")
        }
        var headers = HTTPFields()
        headers[.contentType] = asset.contentType
        headers[.cacheControl] = "no-cache"
        headers[.xContentTypeOptions] = "nosniff"
        if name == "index.html" { headers[.contentSecurityPolicy] = contentSecurityPolicy }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }
}
