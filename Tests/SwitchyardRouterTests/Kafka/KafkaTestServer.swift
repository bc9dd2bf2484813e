import Foundation
import KafkaClient
import Logging
import RedisTestSupport
import Switchyard
import SwitchyardKafka

extension EngineKind {
    /// The Kafka engine on the broker of `KAFKA_URL`, committing groups' positions every 100 ms.
    static let kafka = EngineKind(description: "kafka") { clock, maxEntries in
        KafkaTestServer.makeEngine(clock: clock, maxEntries: maxEntries)
    }
}

/// The broker that `scripts/test` started.
enum KafkaTestServer {
    static func configuration() -> KafkaConfiguration {
        try! KafkaConfiguration(url: ProcessInfo.processInfo.environment["KAFKA_URL"] ?? "kafka://127.0.0.1:9092")
    }

    static func engineConfiguration(
        contracts: ContractRegistry? = Fixtures.contracts, maxEntries: Int = 1_000_000, deliveryTimeout: Duration = .seconds(20)
    ) -> KafkaEngine.Configuration {
        KafkaEngine.Configuration(
            kafka: configuration(), contracts: contracts, maxEntriesPerChannel: maxEntries, commitInterval: .milliseconds(100),
            requestTimeout: .seconds(20), deliveryTimeout: deliveryTimeout)
    }

    /// A router over a Kafka engine with the shipped contracts, publishing as OPA's quotes streamer.
    static func opaRouter() throws -> (Router, KafkaEngine) {
        let contracts = try ContractRegistry.shipped()
        let engine = makeEngine(contracts: contracts)
        let router = Router(
            contracts: contracts, engine: engine, configuration: RouterConfiguration(source: "opa-quotes-streamer", enforcesRateLimits: false),
            logger: Logger(label: "test.opa"))
        return (router, engine)
    }

    static func makeEngine(
        clock: any SwitchyardClock = SystemClock(), maxEntries: Int = 1_000_000, contracts: ContractRegistry? = Fixtures.contracts
    ) -> KafkaEngine {
        do {
            return try KafkaEngine(
                configuration: engineConfiguration(contracts: contracts, maxEntries: maxEntries), clock: clock,
                logger: Logger(label: "test.kafka"))
        } catch {
            fatalError("the Kafka engine did not start: \(error)")
        }
    }
}
