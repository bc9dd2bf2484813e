import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The process's own resource use, read from `/proc/self` on Linux; `nil` where it cannot be read.
enum ProcessStats {
    /// When the first value was asked for; the uptime's fallback where `/proc` is missing.
    static let firstLook = ContinuousClock.now

    /// Resident memory (`VmRSS` of `/proc/self/status`), in MiB.
    static func residentMemoryMiB() -> Double? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kib = Double(fields[1]) else { return nil }
            return kib / 1024
        }
        return nil
    }

    /// CPU time used so far (user plus system), and seconds since the process started.
    static func cpuAndUptime() -> (cpuSeconds: Double, uptimeSeconds: Double)? {
        #if os(Linux)
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")"),
            let uptimeText = try? String(contentsOfFile: "/proc/uptime", encoding: .utf8),
            let systemUptime = uptimeText.split(separator: " ").first.flatMap({ Double($0) })
        else { return nil }
        // Fields after the command name: state is field 3, so utime (14) is index 11, stime 12, starttime (22) 19.
        let fields = stat[stat.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count > 19, let user = Double(fields[11]), let system = Double(fields[12]), let start = Double(fields[19]) else {
            return nil
        }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard ticks > 0 else { return nil }
        return ((user + system) / ticks, max(0, systemUptime - start / ticks))
        #else
        return nil
        #endif
    }

    /// Seconds since the process started (since ``firstLook`` where `/proc` is missing).
    static func uptimeSeconds() -> Double {
        if let (_, uptime) = cpuAndUptime() { return uptime }
        let elapsed = ContinuousClock.now - firstLook
        return Double(elapsed.components.seconds)
    }

    /// The number of processors CPU percentages are relative to.
    static var processors: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }
}

/// CPU use between two looks at the process, as a percent of the host's capacity (0 to 100).
struct CPUMeter: Sendable {
    private var last: (cpuSeconds: Double, at: ContinuousClock.Instant)?

    /// The percent since the previous call (since the process started, on the first call).
    mutating func percent() -> Double? {
        guard let (cpu, uptime) = ProcessStats.cpuAndUptime() else { return nil }
        let now = ContinuousClock.now
        defer { last = (cpu, now) }
        let used: Double
        let elapsed: Double
        if let last {
            used = cpu - last.cpuSeconds
            let (seconds, attoseconds) = (now - last.at).components
            elapsed = Double(seconds) + Double(attoseconds) / 1e18
        } else {
            used = cpu
            elapsed = uptime
        }
        guard elapsed > 0 else { return 0 }
        return min(100, max(0, used / elapsed / Double(ProcessStats.processors) * 100))
    }
}
