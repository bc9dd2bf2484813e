/// Exponential backoff with jitter, from ``RedisConfiguration/Reconnect``.
struct RedisBackoff: Sendable {
    let settings: RedisConfiguration.Reconnect
    private(set) var attempt = 0

    init(_ settings: RedisConfiguration.Reconnect) {
        self.settings = settings
    }

    /// The delay before the next attempt: the nominal delay less a random share of up to `jitter`.
    mutating func next<R: RandomNumberGenerator>(using generator: inout R) -> Duration {
        let initial = Self.seconds(self.settings.initialDelay)
        let maximum = Self.seconds(self.settings.maximumDelay)
        let nominal = min(maximum, initial * pow(self.settings.multiplier, Double(self.attempt)))
        self.attempt += 1
        let jitter = min(max(self.settings.jitter, 0), 1)
        let factor = 1 - Double.random(in: 0...jitter, using: &generator)
        return .nanoseconds(Int64(nominal * factor * 1e9))
    }

    /// The delay before the next attempt, with the system's random numbers.
    mutating func next() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return self.next(using: &generator)
    }

    mutating func reset() {
        self.attempt = 0
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private func pow(_ base: Double, _ exponent: Double) -> Double {
        var result = 1.0
        var remaining = Int(exponent)
        while remaining > 0 && result < 1e12 {
            result *= base
            remaining -= 1
        }
        return result
    }
}
