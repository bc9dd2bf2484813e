import Synchronization
import Testing

@testable import Switchyard

/// `result(within:of:)`, the one bounded wait.
@Suite struct DeadlineTests {
    @Test func theWorksResultWhenItComesFirst() async {
        #expect(await result(within: .seconds(60)) { 42 } == 42)
        let nothing: Int?? = await result(within: .seconds(60)) { () async -> Int? in nil }
        #expect(nothing == .some(nil), "an optional result of the work is not the timeout")
    }

    @Test func nilWhenTheTimeRunsOutFirstAndTheWorkIsCancelled() async {
        let cancelled = Atomic<Bool>(false)
        let answer = await result(within: .milliseconds(20)) { () async -> Int in
            await withTaskCancellationHandler {
                // A stream that never ends on its own: only cancellation stops the loop.
                let (stream, continuation) = AsyncStream.makeStream(of: Never.self)
                for await _ in stream {}
                continuation.finish()
                return 1
            } onCancel: {
                cancelled.store(true, ordering: .sequentiallyConsistent)
            }
        }
        #expect(answer == nil)
        let wasCancelled = cancelled.load(ordering: .sequentiallyConsistent)
        #expect(wasCancelled)
    }
}
