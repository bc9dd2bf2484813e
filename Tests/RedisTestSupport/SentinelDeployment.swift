import Foundation
import Logging
import NIOCore
import NIOPosix
import RESP
import RedisClient
import Synchronization

/// A private Redis primary, its replica and three Sentinels on free loopback ports, for a test
/// that fails the primary over. Its files (configs, pidfiles, logs) are under `SWITCHYARD_TEST_TMP`
/// when `scripts/test` set it, whose exit stops whatever a crashed test left running.
public final class SentinelDeployment: Sendable {
    /// The name the Sentinels monitor the primary under.
    public let primaryName = "failover-test"
    /// The ports of the two data servers; either may be the primary.
    public let serverPorts: [Int]
    /// The Sentinels' ports.
    public let sentinelPorts: [Int]
    private let directory: String
    /// The running servers by port: the two data servers, then the Sentinels.
    private let processes: Mutex<[Int: Process]>
    /// The CA that signed the servers' certificate, when every server (Sentinels too) speaks TLS only.
    public let certificateAuthority: String?
    /// The Sentinels' password (`requirepass` in sentinel.conf), if any.
    public let sentinelPassword: String?

    /// The URL Switchyard is given (`rediss+sentinel://` with TLS, the Sentinels' password as `sentinel_password`).
    public var url: String {
        (certificateAuthority == nil ? "redis" : "rediss") + "+sentinel://" + sentinelPorts.map { "127.0.0.1:\($0)" }.joined(separator: ",")
            + "/\(primaryName)" + (sentinelPassword.map { "?sentinel_password=\($0)" } ?? "")
    }

    /// Starts the servers and waits until the replica has synced (`state=online` on the primary)
    /// and every Sentinel knows the replica and the two other Sentinels, so a failover can start
    /// at once. A deployment that is not ready in time (a loaded machine, a port taken by another
    /// test between its choice and the server's bind) is stopped and started again on new ports,
    /// once; the error names what was missing and where the servers' logs are.
    /// - Parameters:
    ///   - tls: A certificate, its key and the CA that signed it: every server then listens with TLS
    ///     only, replication included.
    ///   - sentinelPassword: The Sentinels' `requirepass` (they use it with each other as well).
    public static func start(
        tls: (certificate: String, key: String, certificateAuthority: String)? = nil, sentinelPassword: String? = nil
    ) async throws -> SentinelDeployment {
        var lastError: (any Error)?
        for _ in 0..<2 {
            let ports = try await freePorts(5)
            let base = ProcessInfo.processInfo.environment["SWITCHYARD_TEST_TMP"].flatMap { $0.isEmpty ? nil : $0 } ?? NSTemporaryDirectory()
            let directory = "\(base)/sentinel-\(UUID().uuidString.prefix(8))"
            let deployment = try SentinelDeployment(ports: ports, directory: directory, tls: tls, sentinelPassword: sentinelPassword)
            do {
                try await deployment.waitUntilReady()
                return deployment
            } catch {
                lastError = error
                deployment.stop(keepingFiles: true)
            }
        }
        throw lastError ?? SentinelDeploymentError(description: "the Sentinel deployment did not start")
    }

    private init(
        ports: [Int], directory: String, tls: (certificate: String, key: String, certificateAuthority: String)?, sentinelPassword: String?
    ) throws {
        self.serverPorts = Array(ports[0..<2])
        self.sentinelPorts = Array(ports[2..<5])
        self.directory = directory
        self.processes = Mutex([:])
        self.certificateAuthority = tls?.certificateAuthority
        self.sentinelPassword = sentinelPassword
        let tlsLines = tls.map {
            [
                "tls-cert-file \($0.certificate)", "tls-key-file \($0.key)", "tls-ca-cert-file \($0.certificateAuthority)",
                "tls-auth-clients no", "tls-replication yes",
            ]
        } ?? []
        try write("primary", port: serverPorts[0], tlsLines)
        try write("replica", port: serverPorts[1], tlsLines + ["replicaof 127.0.0.1 \(serverPorts[0])"])
        let passwordLines = sentinelPassword.map { ["requirepass \($0)", "sentinel sentinel-pass \($0)"] } ?? []
        for (index, port) in sentinelPorts.enumerated() {
            try write("sentinel\(index + 1)", port: port, tlsLines + passwordLines + [
                "sentinel monitor \(primaryName) 127.0.0.1 \(serverPorts[0]) 2",
                "sentinel down-after-milliseconds \(primaryName) 1000",
                "sentinel failover-timeout \(primaryName) 5000",
            ])
        }
        for port in serverPorts + sentinelPorts { try launch(port: port) }
    }

    private func folder(_ port: Int) -> String {
        if let index = serverPorts.firstIndex(of: port) { return "\(directory)/\(index == 0 ? "primary" : "replica")" }
        return "\(directory)/sentinel\((sentinelPorts.firstIndex(of: port) ?? 0) + 1)"
    }

    private func write(_ name: String, port: Int, _ lines: [String]) throws {
        let folder = "\(directory)/\(name)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let listener = certificateAuthority == nil ? ["port \(port)"] : ["port 0", "tls-port \(port)"]
        let config = listener + [
            "bind 127.0.0.1", "dir \(folder)", "pidfile \(folder)/server.pid", "logfile \(folder)/server.log",
            "save \"\"", "appendonly no", "repl-diskless-sync-delay 0",
        ] + lines
        try (config.joined(separator: "\n") + "\n").write(toFile: "\(folder)/server.conf", atomically: true, encoding: .utf8)
    }

    private func launch(port: Int) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["redis-server", "\(folder(port))/server.conf"] + (sentinelPorts.contains(port) ? ["--sentinel"] : [])
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        processes.withLock { $0[port] = process }
    }

    /// Starts a killed data server again on its config. Without persistence it comes back empty:
    /// start it only once the Sentinels have promoted the other server, which then makes it a
    /// replica that copies the new primary.
    public func restart(port: Int) throws {
        try launch(port: port)
    }

    /// The port of the server the Sentinels name the primary now.
    public func primaryPort() async throws -> Int? {
        for port in sentinelPorts {
            guard let reply = try? await self.ask(port: port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", primaryName) else { continue }
            if let elements = reply.elements, elements.count == 2, let text = elements[1].string { return Int(text) }
        }
        return nil
    }

    /// Sends SIGKILL to the server that is the primary now; returns its port.
    @discardableResult
    public func killPrimary() async throws -> Int {
        guard let port = try await primaryPort(), let process = processes.withLock({ $0[port] }) else {
            throw SentinelDeploymentError(description: "no Sentinel names a primary")
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return port
    }

    /// Stops the server on `port` (SIGSTOP): it holds its connections but answers nothing.
    public func pause(port: Int) {
        if let process = processes.withLock({ $0[port] }) { kill(process.processIdentifier, SIGSTOP) }
    }

    /// Lets a paused server go on (SIGCONT).
    public func resume(port: Int) {
        if let process = processes.withLock({ $0[port] }) { kill(process.processIdentifier, SIGCONT) }
    }

    /// Stops every server (SIGKILL: nothing of theirs is kept) and removes the files, unless
    /// they are kept for a failure's diagnosis.
    public func stop(keepingFiles: Bool = false) {
        let all = processes.withLock { Array($0.values) }
        for process in all where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in all { process.waitUntilExit() }
        if !keepingFiles { try? FileManager.default.removeItem(atPath: directory) }
    }

    private func waitUntilReady() async throws {
        let primary = serverPorts[0]
        var missing = ""
        let ready = try await eventually(timeout: .seconds(45), every: .milliseconds(100)) {
            guard let info = try? await self.ask(port: primary, "INFO", "replication")?.string, info.contains("state=online") else {
                missing = "the replica online at the primary (127.0.0.1:\(primary))"
                return false
            }
            for port in self.sentinelPorts {
                guard let replicas = try? await self.ask(port: port, "SENTINEL", "REPLICAS", self.primaryName)?.elements, replicas.count == 1 else {
                    missing = "the Sentinel at 127.0.0.1:\(port) knowing the replica"
                    return false
                }
                guard let sentinels = try? await self.ask(port: port, "SENTINEL", "SENTINELS", self.primaryName)?.elements, sentinels.count == 2 else {
                    missing = "the Sentinel at 127.0.0.1:\(port) knowing the two others"
                    return false
                }
            }
            return true
        }
        if !ready { throw SentinelDeploymentError(description: "the Sentinel deployment is not ready: no \(missing) after 45 s (server logs in \(directory))") }
    }

    /// One command to one server, on a connection of its own, with TLS and the Sentinels' password when set.
    public func ask(port: Int, _ arguments: String...) async throws -> RESPValue? {
        try await askServer(
            port: port, certificateAuthority: certificateAuthority, password: sentinelPorts.contains(port) ? sentinelPassword : nil,
            commandTimeout: .seconds(2), arguments)
    }

    /// `count` distinct free loopback ports: all are held open while they are chosen.
    private static func freePorts(_ count: Int) async throws -> [Int] {
        var channels: [any Channel] = []
        for _ in 0..<count {
            channels.append(try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get())
        }
        let ports = channels.map { $0.localAddress?.port ?? 0 }
        for channel in channels { try await channel.close() }
        return ports
    }
}

/// A private Sentinel deployment could not be started or used.
public struct SentinelDeploymentError: Error, CustomStringConvertible {
    public var description: String
}
