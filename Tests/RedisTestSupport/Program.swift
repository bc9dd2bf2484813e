import Foundation

/// Runs `body` on a thread of its own and returns what it returns.
///
/// For blocking calls (`Process.waitUntilExit()`, reading a pipe to its end): on the concurrency
/// pool, which has one thread per core, each such call holds a thread, and two of them on a
/// two-core machine stall every other test of the process (their servers, clients and timers)
/// until they return.
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// How a program ran: its exit status and what it wrote.
public struct ProgramResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// Runs a program to its end, writing `stdin` to it, and waits for it off the concurrency pool
/// (see ``blocking(_:)``).
/// - Parameters:
///   - executable: The program's path; `/usr/bin/env` to find it on `PATH`.
///   - environment: The program's environment; the test process's when `nil`.
///   - directory: Its working directory; the test process's when `nil`.
public func runProgram(
    _ executable: String, _ arguments: [String], stdin: String? = nil, environment: [String: String]? = nil, directory: String? = nil
) async throws -> ProgramResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let (input, output, errors) = (Pipe(), Pipe(), Pipe())
    process.standardInput = input
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    return try await blocking {
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ProgramResult(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }
}

/// Waits off the concurrency pool until `process` has exited (see ``blocking(_:)``).
public func waitForExit(_ process: Process) async {
    _ = try? await blocking { process.waitUntilExit() }
}

/// Runs `body` while `process` runs, then stops it with SIGTERM and waits for it to exit off the
/// concurrency pool, whether `body` returned or threw.
public func terminating(_ process: Process, after body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch {
        process.terminate()
        await waitForExit(process)
        throw error
    }
    process.terminate()
    await waitForExit(process)
}
