import KafkaClient
import RedisTestSupport
import Testing

@Suite("KafkaLibrary")
struct KafkaLibraryTests {
    @Test("loads the librdkafka SWITCHYARD_LIBRDKAFKA names and reports its version", .needs(.kafka))
    func loadsAndReportsVersion() throws {
        try KafkaLibrary.load()
        let parts = KafkaLibrary.version.split(separator: ".").compactMap { Int($0) }
        try #require(parts.count >= 2, "version \(KafkaLibrary.version)")
        #expect(parts[0] > 2 || (parts[0] == 2 && parts[1] >= 2), "librdkafka \(KafkaLibrary.version) is older than 2.2")
        // Loading it again, by name or from the environment, is no error.
        try KafkaLibrary.load(path: try TestEnvironment.value("SWITCHYARD_LIBRDKAFKA"))
        try KafkaLibrary.load()
    }

    @Test("a library that is missing, or is not librdkafka, gives an error that says what to install")
    func badLibraryPath() throws {
        let missing = #expect(throws: KafkaError.self) { try KafkaLibrary.load(path: "/nonexistent/librdkafka.so.1") }
        #expect(missing?.code == KafkaError.libraryUnavailable)
        #expect(missing?.message.contains("/nonexistent/librdkafka.so.1") == true)
        #expect(missing?.message.contains("SWITCHYARD_LIBRDKAFKA") == true)
        #expect(missing?.message.contains("2.2.0") == true)

        let notKafka = #expect(throws: KafkaError.self) { try KafkaLibrary.load(path: "libm.so.6") }
        #expect(notKafka?.code == KafkaError.libraryUnavailable)
        #expect(notKafka?.message.contains("not librdkafka") == true)

        let configuration = KafkaConfiguration(bootstrapServers: "127.0.0.1:9", libraryPath: "/nonexistent/librdkafka.so.1")
        let producer = #expect(throws: KafkaError.self) { try KafkaProducer(configuration: configuration) }
        #expect(producer?.code == KafkaError.libraryUnavailable)
    }
}

@Suite("KafkaConfiguration")
struct KafkaConfigurationTests {
    @Test("kafka:// URLs with several brokers and settings as query items")
    func urls() throws {
        let plain = try KafkaConfiguration(url: "kafka://b1:9092,b2:9093")
        #expect(plain.bootstrapServers == "b1:9092,b2:9093")
        #expect(plain.clientID == "switchyard")
        #expect(plain.properties.isEmpty)

        let bare = try KafkaConfiguration(url: "127.0.0.1:19092")
        #expect(bare.bootstrapServers == "127.0.0.1:19092")

        let settings = try KafkaConfiguration(url: "kafka://[::1]:9093/?security.protocol=SSL&ssl.ca.location=%2Fetc%2Fca.pem")
        #expect(settings.bootstrapServers == "[::1]:9093")
        #expect(settings.properties == ["security.protocol": "SSL", "ssl.ca.location": "/etc/ca.pem"])
    }

    @Test("refuses other schemes, credentials in the URL and brokers without a port", arguments: [
        "redis://127.0.0.1:6379", "kafka://user:secret@b1:9092", "kafka://b1", "kafka://b1:9092,", "kafka://b1:0", "kafka://?a=b",
    ])
    func refusals(url: String) {
        let error = #expect(throws: KafkaError.self) { try KafkaConfiguration(url: url) }
        #expect(error?.code == KafkaError.invalidConfiguration)
        #expect(error?.message.contains("secret") == false)
    }
}
