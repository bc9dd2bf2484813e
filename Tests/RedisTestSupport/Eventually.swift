/// Waits until `condition` holds, checking it every `interval`, for at most `timeout` (generous:
/// the machine may be loaded); returns whether it held.
public func eventually(
    timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(10), _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: interval)
    }
    return try await condition()
}
