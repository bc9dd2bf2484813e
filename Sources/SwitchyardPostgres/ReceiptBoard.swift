import Switchyard
import Synchronization

/// Where a relay posts the receipts of the events it published, for callers waiting on them.
final class ReceiptBoard: Sendable {
    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<PublishReceipt?, Never>
    }

    private let waiters = Mutex<[EventID: [Waiter]]>([:])
    private let nextID = Atomic<Int>(0)

    /// Hands each receipt to the callers waiting for its event id.
    func post(_ receipts: [PublishReceipt]) {
        var woken: [(CheckedContinuation<PublishReceipt?, Never>, PublishReceipt)] = []
        waiters.withLock { waiters in
            guard !waiters.isEmpty else { return }
            for receipt in receipts {
                if let list = waiters.removeValue(forKey: receipt.eventID) {
                    woken += list.map { ($0.continuation, receipt) }
                }
            }
        }
        for (continuation, receipt) in woken { continuation.resume(returning: receipt) }
    }

    /// The receipt posted for `eventID` within `timeout`, or `nil`.
    func wait(for eventID: EventID, timeout: Duration) async -> PublishReceipt? {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let posted = await result(within: timeout) { () async -> PublishReceipt? in
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let cancelled = self.waiters.withLock { waiters -> Bool in
                        if Task.isCancelled { return true }
                        waiters[eventID, default: []].append(Waiter(id: id, continuation: continuation))
                        return false
                    }
                    if cancelled { continuation.resume(returning: nil) }
                }
            } onCancel: {
                let waiter = self.waiters.withLock { waiters -> Waiter? in
                    guard var list = waiters[eventID], let index = list.firstIndex(where: { $0.id == id }) else { return nil }
                    let waiter = list.remove(at: index)
                    waiters[eventID] = list.isEmpty ? nil : list
                    return waiter
                }
                waiter?.continuation.resume(returning: nil)
            }
        }
        return posted ?? nil
    }
}
