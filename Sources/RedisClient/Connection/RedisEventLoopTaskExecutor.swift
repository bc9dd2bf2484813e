import NIOCore

/// A connection's event loop as a Swift task executor.
///
/// A continuation resumed on the loop (a reply arrived) would otherwise continue on the global
/// executor and hop back to the loop: two thread switches per command. With this executor as the
/// task's preference it continues on the loop, where the connection actor already runs.
final class RedisEventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = self.asUnownedTaskExecutor()
        self.eventLoop.execute {
            job.runSynchronously(on: executor)
        }
    }
}
