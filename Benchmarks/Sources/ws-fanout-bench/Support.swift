import Foundation
import NIOCore
import Switchyard
import Synchronization

/// Seconds since an arbitrary origin on the monotonic clock; every process-local time uses it.
let origin = ContinuousClock.now
@Sendable func now() -> Double {
    let elapsed = ContinuousClock.now - origin
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

/// `/proc/PID/status` VmRSS in bytes, and utime+stime in seconds.
func serverRSS(_ serverPID: Int32) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(serverPID)/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kib = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kib * 1024
}
func serverCPUSeconds(_ serverPID: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(serverPID)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return 0 }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // After the command name: state is field 3, utime 14, stime 15 (1-based over the whole line).
    let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
    return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// The due time of every event the publisher sent, by event id (the 16 bytes as two words).
struct Schedule: ~Copyable {
    var due: [EventIDKey: Double] = [:]
}
typealias EventIDKey = EventID
let schedule = Mutex(Schedule())

/// What one client saw.
struct ClientResult: Sendable {
    var latencies: [Double] = []
    var received = 0
    var duplicates = 0
}

let eventIDMarker = Array(#""event_id":""#.utf8)

/// Parses the 36-character UUID text following `"event_id":"` in a frame.
@Sendable func eventID(in bytes: ByteBufferView) -> EventIDKey? {
    guard let start = bytes.firstRange(of: eventIDMarker)?.upperBound,
          bytes.distance(from: start, to: bytes.endIndex) >= 36 else { return nil }
    let text = String(decoding: bytes[start..<bytes.index(start, offsetBy: 36)], as: UTF8.self)
    guard let id = EventID(text) else { return nil }
    return id
}

let subscribed = Atomic<Int>(0)
let measuring = Atomic<Bool>(false)
let stopAt = Mutex<Double>(.infinity)


/// Where a client's handler leaves what it saw.
final class ResultBox: Sendable {
    let value = Mutex(ClientResult())
}

/// Writes a line to standard output unbuffered, so a run cut short still shows its progress.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
