/// Runs `work` and returns its result, or `nil` once `timeout` has passed first, in which case
/// `work` is cancelled. The one "first of the work or a timer" race every bounded wait uses: a
/// probe (`PING`, `SELECT 1`), a confirmation, a receipt, a client call.
///
/// When the calling task is cancelled, the timer ends at once and the answer is `nil`.
/// - Parameters:
///   - timeout: How long to wait for `work`.
///   - work: The work; cancelled when the time runs out.
/// - Returns: What `work` returned, or `nil` when the time ran out first.
public func result<T: Sendable>(within timeout: Duration, of work: @escaping @Sendable () async -> T) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await work() }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}
