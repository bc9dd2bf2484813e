import Foundation
import Synchronization

/// Seconds on the system's monotonic clock: one time base for the publisher and every client.
@Sendable func monotonicNow() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// `/proc/PID/status` VmRSS in bytes.
func serverRSS(_ serverPID: Int32) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(serverPID)/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kib = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kib * 1024
}

/// utime + stime of `/proc/PID/stat`, in seconds.
func serverCPUSeconds(_ serverPID: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(serverPID)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return 0 }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // After the command name: state is field 3, utime 14, stime 15 (1-based over the whole line).
    let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
    return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// The measured window's bounds, as `Double` bit patterns, read by every client on every frame.
let measureFrom = Atomic<UInt64>(Double.infinity.bitPattern)
let measureUntil = Atomic<UInt64>(Double.infinity.bitPattern)
@Sendable func measureWindow() -> MeasureWindow {
    MeasureWindow(
        from: Double(bitPattern: measureFrom.load(ordering: .relaxed)), until: Double(bitPattern: measureUntil.load(ordering: .relaxed)))
}

let subscribed = Atomic<Int>(0)
let results = Mutex<[ClientResult]>([])

/// Writes a line to standard output unbuffered, so a run cut short still shows its progress.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
