import Foundation
import Synchronization
import SwitchyardBench

/// `/proc/PID/status` VmRSS in bytes.
func serverRSS(_ serverPID: Int32) -> Int { ProcessUsage(pid: serverPID)?.rssBytes ?? 0 }

/// utime + stime of `/proc/PID/stat`, in seconds.
func serverCPUSeconds(_ serverPID: Int32) -> Double { ProcessUsage(pid: serverPID)?.cpuSeconds ?? 0 }

/// The measured window's bounds, as `Double` bit patterns, read by every client on every frame.
let measureFrom = Atomic<UInt64>(Double.infinity.bitPattern)
let measureUntil = Atomic<UInt64>(Double.infinity.bitPattern)
@Sendable func measureWindow() -> MeasureWindow {
    MeasureWindow(
        from: Double(bitPattern: measureFrom.load(ordering: .relaxed)), until: Double(bitPattern: measureUntil.load(ordering: .relaxed)))
}

let subscribed = Atomic<Int>(0)
let results = Mutex<[WebSocketClientResult]>([])

/// Writes a line to standard output unbuffered, so a run cut short still shows its progress.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
