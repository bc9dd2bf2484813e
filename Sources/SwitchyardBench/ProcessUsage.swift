import Foundation
import Synchronization

/// Seconds on the system's monotonic clock (`CLOCK_MONOTONIC`): one time base for every process
/// on the machine, so a publisher's due time can be compared with a receiver's clock in another process.
@Sendable public func monotonicNow() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// A process's CPU time and resident memory, read from `/proc/PID`.
public struct ProcessUsage: Sendable, Equatable {
    /// User plus system CPU time so far, in seconds.
    public var cpuSeconds: Double
    /// Resident set size (`VmRSS`), in bytes.
    public var rssBytes: Int

    /// Reads `/proc/PID/stat` and `/proc/PID/status`; `nil` when the process cannot be read.
    public init?(pid: Int32) {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // After the command name come the state (field 3) and, as fields 14 and 15 of the whole line, utime and stime.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        cpuSeconds = (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        rssBytes = kib * 1024
    }

    /// The name of the process's executable (`/proc/PID/comm`), or `nil`.
    public static func command(pid: Int32) -> String? {
        (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Samples one process's usage while a measurement runs: CPU over the window, RSS at its end
/// and at its peak.
public final class ProcessMonitor: Sendable {
    /// The process watched.
    public let pid: Int32
    private struct State {
        var start: (usage: ProcessUsage, wall: Double)?
        var last: (usage: ProcessUsage, wall: Double)?
        var publishingEnd: (usage: ProcessUsage, wall: Double)?
        var peakRSS = 0
    }
    private let state = Mutex(State())

    /// Watches `pid` (the calling process when `nil`).
    public init(pid: Int32? = nil) {
        self.pid = pid ?? getpid()
    }

    /// Takes a sample now; the first one starts the window.
    public func sample() {
        guard let usage = ProcessUsage(pid: pid) else { return }
        let wall = monotonicNow()
        state.withLock { state in
            if state.start == nil { state.start = (usage, wall) }
            state.last = (usage, wall)
            state.peakRSS = max(state.peakRSS, usage.rssBytes)
        }
    }

    /// Takes a sample that ends the publishing window: the CPU while publishing is measured up to
    /// here, without the drain after it (when consumers that fell behind catch up at their own pace).
    public func markPublishingEnd() {
        sample()
        state.withLock { $0.publishingEnd = $0.last }
    }

    /// Samples every `interval` until the task is cancelled.
    public func run(every interval: Duration = .milliseconds(250)) async {
        sample()
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            sample()
        }
    }

    /// The figures between the first and the last sample; `nil` when the process could not be read.
    /// - Parameter events: The events acknowledged while publishing, for the CPU time per event.
    public func report(role: String, events: Int = 0) -> ProcessReport? {
        state.withLock { state in
            guard let start = state.start, let last = state.last else { return nil }
            let wall = last.wall - start.wall
            var report = ProcessReport(
                pid: pid, role: role, command: ProcessUsage.command(pid: pid),
                cpuPercent: wall > 0 ? (last.usage.cpuSeconds - start.usage.cpuSeconds) / wall * 100 : 0,
                rssBytes: last.usage.rssBytes, peakRSSBytes: state.peakRSS)
            if let end = state.publishingEnd, end.wall > start.wall {
                let cpu = end.usage.cpuSeconds - start.usage.cpuSeconds
                report.cpuPercentWhilePublishing = cpu / (end.wall - start.wall) * 100
                if events > 0 { report.cpuMicrosecondsPerEvent = cpu / Double(events) * 1e6 }
            }
            return report
        }
    }
}
