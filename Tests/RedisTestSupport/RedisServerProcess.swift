import Foundation
import RedisClient

/// Starts and kills the shared redis-server from `REDIS_CONF` (its pidfile names the live one).
public enum RedisServerProcess {
    /// The pid of the live server, from the pidfile its config names.
    public static func pid(configPath: String) throws -> Int32 {
        let config = try String(contentsOfFile: configPath, encoding: .utf8)
        guard let line = config.split(separator: "\n").first(where: { $0.hasPrefix("pidfile ") }) else {
            throw MissingEnvironment(name: "pidfile in REDIS_CONF")
        }
        let pidfile = String(line.dropFirst("pidfile ".count))
        let text = try String(contentsOfFile: pidfile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let pid = Int32(text) else { throw MissingEnvironment(name: "a pid in \(pidfile)") }
        return pid
    }

    /// Sends SIGKILL to the live server.
    public static func kill(configPath: String) throws {
        let pid = try self.pid(configPath: configPath)
        guard Foundation.kill(pid, SIGKILL) == 0 else { throw MissingEnvironment(name: "a live redis-server with pid \(pid)") }
    }

    /// Launches `redis-server $REDIS_CONF` at once (no suspension point, so a test cancelled right
    /// after killing the server still leaves one starting), then waits until it answers.
    public static func start(configPath: String, configuration: RedisConfiguration) async throws {
        for _ in 0..<50 {
            let process = try launch(configPath: configPath)
            var up = false
            _ = try await eventually(timeout: .seconds(5), every: .milliseconds(50)) {
                up = await answersPing(configuration: configuration)
                return up || !process.isRunning
            }
            if up { return }
        }
        throw MissingEnvironment(name: "a restarted redis-server")
    }

    /// Whether a server answers `PING` on a fresh connection.
    public static func answersPing(configuration: RedisConfiguration) async -> Bool {
        guard let connection = try? await RedisConnection.connect(configuration: configuration, logger: CapturedLogs().logger()) else {
            return false
        }
        let pong = try? await connection.execute(PING())
        await connection.close()
        return pong == "PONG"
    }

    /// Waits until the server answers `PING`, for at most about 30 seconds. A server launched right
    /// after a SIGKILL can fail to bind while the old socket is still being torn down and exit; when
    /// the pidfile names no live process, this launches `redis-server $REDIS_CONF` again.
    public static func waitUntilUp(configPath: String, configuration: RedisConfiguration) async throws {
        var attempt = 0
        let up = try await eventually(every: .milliseconds(50)) {
            if await answersPing(configuration: configuration) { return true }
            attempt += 1
            if attempt % 20 == 0, !isAlive(configPath: configPath) {
                _ = try launch(configPath: configPath)
            }
            return false
        }
        if up { return }
        throw MissingEnvironment(name: "a redis-server answering after the restart")
    }

    /// Whether the pidfile names a live process.
    static func isAlive(configPath: String) -> Bool {
        guard let pid = try? pid(configPath: configPath) else { return false }
        return Foundation.kill(pid, 0) == 0
    }

    /// Kills the live server and launches a new one from the same config before returning.
    public static func killAndLaunch(configPath: String) throws {
        try kill(configPath: configPath)
        _ = try launch(configPath: configPath)
    }

    private static func launch(configPath: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["redis-server", configPath]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }
}
