import Foundation
import Logging
import NIOCore
import NIOPosix
import RESP
import RedisClient
import Synchronization

/// A private Redis Cluster of three primaries and three replicas on free loopback ports (each
/// at most 55535, so that its cluster bus port, 10000 higher, is valid), made with
/// `redis-cli --cluster create`, for a test that kills or reshards it. Its files (configs,
/// `nodes.conf`, pidfiles, logs) are under `SWITCHYARD_TEST_TMP` when `scripts/test` set it, whose
/// exit stops whatever a crashed test left running.
public final class ClusterDeployment: Sendable {
    /// The six nodes' ports; the first three were made primaries.
    public let ports: [Int]
    /// The CA that signed the nodes' certificate, when the nodes speak TLS only.
    public let certificateAuthority: String?
    private let directory: String
    private let processes: Mutex<[Int: Process]>

    /// The URL Switchyard is given: one node (`rediss://` when the nodes speak TLS).
    public var url: String { "\(certificateAuthority == nil ? "redis" : "rediss")://127.0.0.1:\(ports[0])" }

    /// Starts the nodes, joins them into a cluster, and waits until every node sees it `ok` and
    /// every replica is in sync. A cluster that is not ready in time is stopped and made again on
    /// new ports, once; the error names what was missing and where the logs are.
    /// - Parameter tls: A certificate, its key and the CA that signed it: the nodes then listen with
    ///   TLS only, for clients, replication and the cluster bus (`tls-cluster yes`).
    public static func start(
        nodeTimeout: Duration = .milliseconds(2000), tls: (certificate: String, key: String, certificateAuthority: String)? = nil
    ) async throws -> ClusterDeployment {
        var lastError: (any Error)?
        for _ in 0..<2 {
            let ports = try freeClusterPorts(6)
            let base = ProcessInfo.processInfo.environment["SWITCHYARD_TEST_TMP"].flatMap { $0.isEmpty ? nil : $0 } ?? NSTemporaryDirectory()
            let deployment = try ClusterDeployment(
                ports: ports, directory: "\(base)/cluster-\(UUID().uuidString.prefix(8))", nodeTimeout: nodeTimeout, tls: tls)
            do {
                try await deployment.create()
                return deployment
            } catch {
                lastError = error
                deployment.stop(keepingFiles: true)
            }
        }
        throw lastError ?? ClusterDeploymentError(description: "the cluster did not start")
    }

    private init(ports: [Int], directory: String, nodeTimeout: Duration, tls: (certificate: String, key: String, certificateAuthority: String)?) throws {
        self.ports = ports
        self.certificateAuthority = tls?.certificateAuthority
        self.directory = directory
        self.processes = Mutex([:])
        let milliseconds = nodeTimeout.components.seconds * 1000 + nodeTimeout.components.attoseconds / 1_000_000_000_000_000
        for port in ports {
            let folder = "\(directory)/\(port)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let listener = tls.map {
                [
                    "port 0", "tls-port \(port)", "tls-cert-file \($0.certificate)", "tls-key-file \($0.key)",
                    "tls-ca-cert-file \($0.certificateAuthority)", "tls-auth-clients no", "tls-cluster yes", "tls-replication yes",
                ]
            } ?? ["port \(port)"]
            let config = listener + [
                "bind 127.0.0.1", "dir \(folder)", "pidfile \(folder)/server.pid", "logfile \(folder)/server.log",
                "save \"\"", "appendonly no", "repl-diskless-sync-delay 0", "cluster-enabled yes", "cluster-config-file nodes.conf",
                "cluster-node-timeout \(milliseconds)",
            ]
            try (config.joined(separator: "\n") + "\n").write(toFile: "\(folder)/server.conf", atomically: true, encoding: .utf8)
            try launch(port: port)
        }
    }

    private func launch(port: Int) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["redis-server", "\(directory)/\(port)/server.conf"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        processes.withLock { $0[port] = process }
    }

    private func create() async throws {
        let up = try await eventually(timeout: .seconds(20), every: .milliseconds(50)) {
            for port in self.ports where (try? await self.ask(port: port, "PING")) == nil { return false }
            return true
        }
        guard up else { throw ClusterDeploymentError(description: "the cluster's nodes did not answer within 20 s (logs in \(directory))") }
        let output = try await Self.redisCLI(
            tlsArguments + ["--cluster", "create"] + ports.map { "127.0.0.1:\($0)" } + ["--cluster-replicas", "1", "--cluster-yes"])
        guard output.status == 0 else {
            throw ClusterDeploymentError(description: "redis-cli --cluster create failed: \(output.text.suffix(600))")
        }
        try await waitUntilHealthy(timeout: .seconds(45))
    }

    /// Waits until every running node sees the cluster `ok`, every slot has a primary, and every
    /// replica's link to its primary is up.
    public func waitUntilHealthy(timeout: Duration = .seconds(45)) async throws {
        var missing = ""
        let ready = try await eventually(timeout: timeout, every: .milliseconds(100)) {
            for port in self.runningPorts {
                guard let info = try? await self.ask(port: port, "CLUSTER", "INFO")?.string, info.contains("cluster_state:ok") else {
                    missing = "cluster_state:ok at 127.0.0.1:\(port)"
                    return false
                }
                guard let replication = try? await self.ask(port: port, "INFO", "replication")?.string else {
                    missing = "an answer from 127.0.0.1:\(port)"
                    return false
                }
                if replication.contains("role:slave"), !replication.contains("master_link_status:up") {
                    missing = "the replica at 127.0.0.1:\(port) in sync"
                    return false
                }
            }
            return true
        }
        if !ready { throw ClusterDeploymentError(description: "the cluster is not healthy: no \(missing) after \(timeout) (logs in \(directory))") }
    }

    private var runningPorts: [Int] {
        processes.withLock { processes in ports.filter { processes[$0]?.isRunning == true } }
    }

    /// The slot map as a running node sees it now.
    public func topology() async throws -> RedisClusterTopology {
        for port in runningPorts {
            if let reply = try? await self.ask(port: port, "CLUSTER", "SHARDS"),
                let topology = try? RedisClusterTopology(shardsReply: reply, tls: certificateAuthority != nil)
            {
                return topology
            }
        }
        throw ClusterDeploymentError(description: "no node of the cluster answered CLUSTER SHARDS")
    }

    /// The port of the primary that serves `slot` now.
    public func primaryPort(ofSlot slot: Int) async throws -> Int? {
        try await topology().primary(ofSlot: slot)?.port
    }

    /// Sends SIGKILL to the node on `port`.
    public func kill(port: Int) {
        guard let process = processes.withLock({ $0[port] }) else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Starts a killed node again on its config and `nodes.conf`: it rejoins the cluster (a
    /// failed-over primary comes back as a replica of the node that replaced it) and, without
    /// persistence, copies its primary's data.
    public func restart(port: Int) throws {
        try launch(port: port)
    }

    /// Moves the lowest `count` slots of the primary on `source` to the primary on `target` with
    /// `redis-cli --cluster reshard` (it migrates keys `pipeline` at a time); returns its output.
    public func reshard(from source: Int, to target: Int, slots count: Int, pipeline: Int = 10) async throws -> String {
        let sourceID = try await self.ask(port: source, "CLUSTER", "MYID")?.string ?? ""
        let targetID = try await self.ask(port: target, "CLUSTER", "MYID")?.string ?? ""
        let output = try await Self.redisCLI(tlsArguments + [
            "--cluster", "reshard", "127.0.0.1:\(source)", "--cluster-from", sourceID, "--cluster-to", targetID,
            "--cluster-slots", "\(count)", "--cluster-yes", "--cluster-pipeline", "\(pipeline)",
        ])
        guard output.status == 0 else { throw ClusterDeploymentError(description: "redis-cli --cluster reshard failed: \(output.text.suffix(600))") }
        return output.text
    }

    /// Stops every node (SIGKILL) and removes the files, unless they are kept for a failure's diagnosis.
    public func stop(keepingFiles: Bool = false) {
        let all = processes.withLock { Array($0.values) }
        for process in all where process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        for process in all { process.waitUntilExit() }
        if !keepingFiles { try? FileManager.default.removeItem(atPath: directory) }
    }

    private var tlsArguments: [String] { certificateAuthority.map { ["--tls", "--cacert", $0] } ?? [] }

    /// One command to one node, on a connection of its own (with TLS when the nodes speak it).
    public func ask(port: Int, _ arguments: String...) async throws -> RESPValue? {
        try await askServer(port: port, certificateAuthority: certificateAuthority, arguments)
    }

    /// Runs `redis-cli` on a thread of its own (not the concurrency pool's), to its end.
    private static func redisCLI(_ arguments: [String]) async throws -> (status: Int32, text: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = ["redis-cli"] + arguments
                let pipe = Pipe()
                process.standardOutput = pipe
                process.standardError = pipe
                do {
                    try process.run()
                    let data = pipe.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    continuation.resume(returning: (process.terminationStatus, String(decoding: data, as: UTF8.self)))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// `count` free loopback ports P ≤ 55535 whose bus port P + 10000 is free as well; all are
    /// held open while they are chosen.
    private static func freeClusterPorts(_ count: Int) throws -> [Int] {
        var held: [Int32] = []
        defer { for descriptor in held { close(descriptor) } }
        var ports: [Int] = []
        while ports.count < count {
            let port = Int.random(in: 20000...55535)
            guard let first = bind(port) else { continue }
            guard let second = bind(port + 10000) else {
                close(first)
                continue
            }
            held += [first, second]
            ports.append(port)
        }
        return ports
    }

    private static func bind(_ port: Int) -> Int32? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(descriptor)
            return nil
        }
        return descriptor
    }
}

/// A private cluster could not be started or used.
public struct ClusterDeploymentError: Error, CustomStringConvertible {
    public var description: String
}
