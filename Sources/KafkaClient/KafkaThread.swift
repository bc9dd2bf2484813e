import Foundation
import Synchronization

/// A thread of a client's own that runs its blocking librdkafka calls one after another.
///
/// librdkafka blocks in its polls and network round trips; run on Swift's concurrency pool, which
/// has one thread per core, each such call would hold one of its threads and stall every task.
final class KafkaThread: Sendable {
    private struct Jobs: ~Copyable {
        var queue: [@Sendable () -> Void] = []
        /// Set by ``finish(_:)``: no job is taken after the last one.
        var finished = false
    }

    private let jobs = Mutex(Jobs())
    private let wakeup = DispatchSemaphore(value: 0)

    /// Starts the thread, named `name` for debuggers and `top -H`.
    init(name: String) {
        let thread = Thread { [self] in self.serve() }
        thread.name = name
        thread.start()
    }

    private func serve() {
        while true {
            self.wakeup.wait()
            let next = self.jobs.withLock { jobs -> (@Sendable () -> Void)? in
                jobs.queue.isEmpty ? nil : jobs.queue.removeFirst()
            }
            guard let next else { return }  // finish(_:) signals once more than it queued
            next()
        }
    }

    /// Queues `job`, unless the thread is finished; returns whether it was queued.
    private func submit(_ job: @escaping @Sendable () -> Void, last: Bool = false) -> Bool {
        let queued = self.jobs.withLock { jobs in
            guard !jobs.finished else { return false }
            jobs.queue.append(job)
            jobs.finished = last
            return true
        }
        if queued { self.wakeup.signal() }
        if queued && last { self.wakeup.signal() }
        return queued
    }

    /// Runs `body` on the thread after the jobs queued before it and returns what it returns.
    /// - Throws: What `body` throws, or a ``KafkaError/closed`` error once the thread is finished.
    func run<T: Sendable>(_ what: String, _ body: @escaping @Sendable () throws(KafkaError) -> T) async throws(KafkaError) -> T {
        let result: Result<T, KafkaError> = await withCheckedContinuation { continuation in
            let queued = self.submit {
                continuation.resume(returning: Result { () throws(KafkaError) -> T in try body() })
            }
            if !queued { continuation.resume(returning: .failure(.closed(what))) }
        }
        return try result.get()
    }

    /// Queues `job` as the thread's last one: once it has run, the thread ends. Returns whether it
    /// was queued (it is not when the thread is finished already).
    @discardableResult
    func finish(_ job: @escaping @Sendable () -> Void) -> Bool {
        self.submit(job, last: true)
    }

    /// Like ``finish(_:)``, and waits until the job has run.
    func finishAndWait(_ job: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let queued = self.finish {
                job()
                continuation.resume()
            }
            if !queued { continuation.resume() }
        }
    }
}
