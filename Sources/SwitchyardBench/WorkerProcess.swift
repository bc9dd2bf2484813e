import Foundation
import Synchronization

/// A worker process of a benchmark (``BenchWorker``), seen from the bench process: started,
/// waited for, told to stop, and killed on every way out of the run.
final class WorkerProcess: @unchecked Sendable {
    /// What it is in progress lines and the report: `group process`, `WebSocket client process`.
    let name: String
    /// Its process id.
    let pid: Int32
    private let process: Process
    private let input: FileHandle
    private struct State {
        var ready: WorkerMessage?
        var result: WorkerMessage?
        var error: String?
        var outputEnded = false
        var exit: (status: Int32, signalled: Bool)?
        var inputClosed = false
    }
    private let state = Mutex(State())

    private init(name: String, process: Process, input: FileHandle) {
        self.name = name
        self.process = process
        self.pid = process.processIdentifier
        self.input = input
    }

    /// Starts `worker` as `command` (its first element the executable) followed by the role's options.
    /// - Throws: ``BenchError`` when the process cannot be started.
    static func start(_ worker: BenchWorker, command: [String]?) throws -> WorkerProcess {
        // A worker that dies leaves its input pipe without a reader: a write must fail, not kill this process.
        signal(SIGPIPE, SIG_IGN)
        let command = try command ?? defaultCommand()
        guard let executable = command.first else { throw BenchError("the worker command is empty") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        var arguments = Array(command.dropFirst()) + ["--pattern", worker.pattern, "--expected", String(worker.expected)]
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: BenchWorker.authorizationVariable)
        switch worker.role {
        case .groups(let url, let names, let consumers):
            arguments += ["--role", "groups", "--redis", url, "--consumers", String(consumers)] + names.flatMap { ["--group", $0] }
        case .webSocketClients(let url, let count, let authorization):
            arguments += ["--role", "websocket-clients", "--gateway", url, "--ws-clients", String(count)]
            // In the environment, not on the command line, where any user of the machine could read it.
            if let authorization { environment[BenchWorker.authorizationVariable] = authorization }
        }
        if let folder = worker.contractsFolder { arguments += ["--contracts", folder] }
        process.arguments = arguments
        process.environment = environment
        let (stdin, stdout) = (Pipe(), Pipe())
        process.standardInput = stdin
        process.standardOutput = stdout
        let reader = stdout.fileHandleForReading
        let box = Box()
        process.terminationHandler = { process in
            box.worker.withLock { $0 }?.state.withLock { $0.exit = (process.terminationStatus, process.terminationReason == .uncaughtSignal) }
        }
        do { try process.run() } catch {
            throw BenchError("the \(worker.name) could not be started (\(executable)): \(error)")
        }
        // (run() has closed this process's copies of the worker's ends of both pipes, and the worker
        // inherits no other descriptor of this process: it holds no socket or pipe of the run.)
        let started = WorkerProcess(name: worker.name, process: process, input: stdin.fileHandleForWriting)
        box.worker.withLock { $0 = started }
        if !process.isRunning {
            started.state.withLock { $0.exit = $0.exit ?? (process.terminationStatus, process.terminationReason == .uncaughtSignal) }
        }
        Thread.detachNewThread { started.read(reader) }
        return started
    }

    /// Where the termination handler finds the worker, which exists only once the process has started.
    private final class Box: Sendable {
        let worker = Mutex<WorkerProcess?>(nil)
    }

    /// This executable's `bench-worker` subcommand.
    static func defaultCommand() throws -> [String] {
        guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            throw BenchError("this process's executable cannot be found in /proc/self/exe to start a worker")
        }
        return [executable, "bench-worker"]
    }

    /// Reads the worker's lines until its output ends.
    private func read(_ handle: FileHandle) {
        var buffer = Data()
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                guard let message = WorkerMessage.decode(WorkerMessage.self, line) else { continue }
                state.withLock { state in
                    switch message.type {
                    case .ready: state.ready = state.ready ?? message
                    case .result: state.result = state.result ?? message
                    case .error: state.error = state.error ?? message.message
                    }
                }
            }
        }
        try? handle.close()
        state.withLock { $0.outputEnded = true }
    }

    /// An error naming this worker, what happened, and what it said or how it ended (waiting a
    /// moment for its exit status when its output has just ended).
    private func failure(_ what: String) async -> BenchError {
        let deadline = monotonicNow() + 2
        while state.withLock({ $0.exit == nil }), monotonicNow() < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        let (error, exit) = state.withLock { ($0.error, $0.exit) }
        var message = "the \(name) (pid \(pid)) \(what)"
        if let error { message += ": \(error)" }
        if let exit {
            message += exit.signalled ? " (killed by signal \(exit.status))" : " (exit status \(exit.status))"
        }
        return BenchError(message)
    }

    /// Throws when the worker failed or ended before its result.
    func checkAlive() async throws {
        let (result, error, ended) = state.withLock { ($0.result, $0.error, $0.outputEnded || $0.exit != nil) }
        if result != nil { return }
        if error != nil { throw await failure("failed") }
        if ended { throw await failure("exited before the end of the run") }
    }

    /// Waits until the worker has set its role up.
    /// - Returns: Its `ready` line.
    /// - Throws: ``BenchError`` when it failed, exited, or was not ready within `timeout` seconds.
    func waitUntilReady(timeout: Double) async throws -> WorkerMessage {
        let deadline = monotonicNow() + timeout
        while true {
            if let ready = state.withLock({ $0.ready }) { return ready }
            if state.withLock({ $0.error != nil }) { throw await failure("failed before it was ready") }
            if state.withLock({ $0.outputEnded || $0.exit != nil }) { throw await failure("exited before it was ready") }
            if monotonicNow() > deadline { throw await failure("was not ready after \(Int(timeout)) s") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Tells the worker that publishing is over.
    func stop(_ stop: WorkerStop) async throws {
        do { try input.write(contentsOf: WorkerMessage.line(stop)) } catch {
            throw await failure("could not be told to stop (\(error))")
        }
    }

    /// Waits for the worker's result.
    /// - Throws: ``BenchError`` when it failed, exited without one, or gave none by `deadline` (``monotonicNow()`` seconds).
    func result(deadline: Double) async throws -> WorkerMessage {
        while true {
            if let result = state.withLock({ $0.result }) { return result }
            try await checkAlive()
            if monotonicNow() > deadline { throw await failure("gave no result in time") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Closes the worker's input, which ends it, and waits for it to exit; kills it when it does not within `timeout` seconds.
    func finish(timeout: Double = 10) async {
        closeInput()
        let deadline = monotonicNow() + timeout
        while process.isRunning, monotonicNow() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        await kill()
    }

    /// Kills the worker (SIGKILL) if it still runs and waits until it is gone.
    func kill() async {
        closeInput()
        guard process.isRunning else { return }
        _ = Foundation.kill(pid, SIGKILL)
        let deadline = monotonicNow() + 10
        while process.isRunning, monotonicNow() < deadline { try? await Task.sleep(for: .milliseconds(10)) }
    }

    private func closeInput() {
        let close = state.withLock { state in
            defer { state.inputClosed = true }
            return !state.inputClosed
        }
        if close { try? input.close() }
    }
}

extension BenchWorker {
    /// The environment variable that carries the WebSocket clients' `Authorization` header to a worker.
    public static let authorizationVariable = "SWITCHYARD_BENCH_AUTHORIZATION"
}
