import Foundation

/// A Tansu broker of a test's own, on a free loopback port, stopped with SIGKILL (a process the
/// tests start inherits their blocked SIGTERM).
public final class PrivateBroker: Sendable {
    /// The broker's port.
    public let port: Int
    private let process: Process

    /// Starts a broker on `port`, or on a free port; returns once it accepts connections.
    public init(port: Int? = nil) async throws {
        let binary = try TestEnvironment.value("SWITCHYARD_TANSU")
        self.port = try port ?? freeLoopbackPort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "broker", "--listener-url", "tcp://127.0.0.1:\(self.port)", "--advertised-listener-url", "tcp://127.0.0.1:\(self.port)",
            "--storage-engine", "memory://tansu/",
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["RUST_LOG"] = nil
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let port = self.port
        let up = try await eventually(timeout: .seconds(20), every: .milliseconds(50)) { acceptsConnections(port: port) }
        guard up else {
            self.kill()
            throw MissingEnvironment(name: "a Tansu broker listening on port \(port)")
        }
    }

    /// `kafka://127.0.0.1:PORT`.
    public var url: String { "kafka://127.0.0.1:\(self.port)" }

    /// Kills the broker with SIGKILL and waits for it off the concurrency pool.
    public func kill() {
        Foundation.kill(self.process.processIdentifier, SIGKILL)
    }

    /// Kills the broker and waits until it is gone.
    public func killAndWait() async {
        self.kill()
        await waitForExit(self.process)
    }
}

/// Whether something accepts TCP connections on `port` of 127.0.0.1 (a loopback connect answers at once).
public func acceptsConnections(port: Int) -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}
