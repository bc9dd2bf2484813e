import Foundation
import HTTPTypes
import Hummingbird
import Switchyard

/// The credential a request presents, from the first of: `Authorization: Bearer`, `X-API-Key`,
/// the `token` query parameter (for WebSocket upgrades from browsers, which cannot set headers).
enum Credential: Sendable {
    /// A bearer token or API key, not yet told apart.
    case bearer(String)
    /// An `X-API-Key` value: only API keys are tried.
    case apiKey(String)

    /// The request's credential, or `nil` when it presents none.
    /// - Throws: `unauthorized` when `Authorization` uses another scheme than `Bearer` or is empty.
    static func from(_ request: Request) throws(SwitchyardError) -> Credential? {
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw SwitchyardError(.unauthorized, "the Authorization header must be 'Bearer <token or API key>'")
            }
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            guard !value.isEmpty else { throw SwitchyardError(.unauthorized, "the bearer credential is empty") }
            return .bearer(value)
        }
        if let key = request.headers[.apiKey] {
            guard !key.isEmpty else { throw SwitchyardError(.unauthorized, "the X-API-Key header is empty") }
            return .apiKey(key)
        }
        if let token = request.uri.queryParameters.get("token") {
            guard !token.isEmpty else { throw SwitchyardError(.unauthorized, "the token query parameter is empty") }
            return .bearer(token)
        }
        return nil
    }
}

extension HTTPField.Name {
    /// `X-API-Key`.
    static let apiKey = HTTPField.Name("X-API-Key")!
}

/// Compares two secrets in time that depends only on their lengths, never on where they differ.
func constantTimeEquals(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
    let left = Array(lhs)
    let right = Array(rhs)
    var difference: UInt8 = left.count == right.count ? 0 : 1
    for index in 0..<max(left.count, right.count) {
        difference |= (index < left.count ? left[index] : 0) ^ (index < right.count ? right[index] : 0)
    }
    return difference == 0
}
