import Foundation
import HummingbirdTesting
import JSONSchema
import NIOPosix
import NIOCore
import RedisTestSupport
import Switchyard
import Testing

/// What the alert tests share: contracts with `system:error_alert`, and readers of the alerts
/// as published on the channel and as `GET /v1/alerts` lists them.
enum Alerts {
    static let channel = AlertConfiguration.defaultChannel

    /// The shipped contracts (`system:error_alert`, `system:health_check`) plus the test gateway's.
    static func contracts(_ extra: [Contract] = []) throws -> ContractRegistry {
        try ContractRegistry(try ContractRegistry.shipped().contracts + TestGateway.contracts().contracts + extra)
    }

    /// Rules evaluated every 100 ms, with `change` applied.
    static func configuration(_ change: (inout AlertConfiguration) -> Void = { _ in }) -> AlertConfiguration {
        var configuration = AlertConfiguration(interval: .milliseconds(100))
        change(&configuration)
        return configuration
    }

    /// Every payload published on `system:error_alert`, oldest first.
    static func published(_ router: Switchyard.Router) async throws -> [JSONValue] {
        try await router.engine.read(channel, from: .beginning, limit: 10_000).map(\.envelope.data)
    }

    /// `GET /v1/alerts`.
    static func listed(_ client: any TestClientProtocol, query: String = "") async throws -> [JSONValue] {
        let answer = try await client.send(.get, "/v1/alerts\(query)")
        return answer.json["alerts"]?.arrayValue ?? []
    }

    /// Waits until `/v1/alerts` lists a firing alert of `type` about `subject` and (when
    /// `onChannel`) it is on the channel; returns its id.
    static func firing(
        _ type: String, _ subject: String, _ gateway: TestGateway, _ client: any TestClientProtocol, onChannel checksChannel: Bool = true
    ) async throws -> String {
        var id: String?
        let listed = try await eventually {
            id = try await Self.listed(client, query: "?state=firing").first {
                $0["alert_type"]?.stringValue == type && $0["subject"]?.stringValue == subject
            }?["alert_id"]?.stringValue
            return id != nil
        }
        let all = try await Self.listed(client)
        #expect(listed, "no \(type) alert about \(subject) fired: \(all)")
        let alertID = try #require(id)
        guard checksChannel else { return alertID }
        let onChannel = try await eventually {
            try await published(gateway.router).contains { $0["alert_id"]?.stringValue == alertID && $0["resolved"] == false }
        }
        #expect(onChannel, "the fired alert was not published on \(channel)")
        return alertID
    }

    /// Waits until the alert is listed resolved and its resolution is on the channel; then checks
    /// that the channel holds exactly one fired and one resolved message of it.
    static func resolved(_ id: String, _ gateway: TestGateway, _ client: any TestClientProtocol) async throws {
        let listed = try await eventually {
            try await Self.listed(client, query: "?state=resolved").contains { $0["alert_id"]?.stringValue == id && $0["state"] == "resolved" }
        }
        let all = try await Self.listed(client)
        #expect(listed, "\(id) did not resolve: \(all)")
        let onChannel = try await eventually {
            try await published(gateway.router).contains { $0["alert_id"]?.stringValue == id && $0["resolved"] == true }
        }
        #expect(onChannel)
        let messages = try await published(gateway.router).filter { $0["alert_id"]?.stringValue == id }
        #expect(messages.map { $0["resolved"] } == [false, true], "one message per transition: \(messages)")
    }

    /// Waits for several evaluations, then checks the alert was published once.
    static func publishedOnce(_ id: String, _ gateway: TestGateway) async throws {
        // A settle period over about six evaluations: a second publication, which must not happen, has no event to await.
        try await Task.sleep(for: .milliseconds(600))
        let messages = try await published(gateway.router).filter { $0["alert_id"]?.stringValue == id }
        #expect(messages.count == 1, "fired once, not at every evaluation: \(messages)")
    }
}

/// A loopback port nothing listens on (bound, then released).
func freeLoopbackPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress?.port ?? 0
    try await channel.close()
    return port
}
