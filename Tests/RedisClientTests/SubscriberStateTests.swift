import NIOCore
import Testing

@testable import RedisClient

/// The subscriber's state, event by event: subscriptions, the connection's lifecycle, the
/// callers waiting until their subscriptions are live, and shutdown.
@Suite struct SubscriberStateTests {
    /// Connections and the run loop's waiter are names, ready waiters are ids.
    typealias State = RedisSubscriberState<String, Int, String>
    typealias Stream = AsyncThrowingStream<RedisSubscription.Event, any Error>

    enum Event: Sendable, CustomStringConvertible {
        case subscribe([String])
        case confirm(Int)
        case unsubscribe(Int)
        case waitUntilReady(Int)
        case removeReadyWaiter(Int)
        case runLoopWaits(cancelled: Bool)
        case takeRunLoopWaiter
        case connected(String)
        case resubscribed(refused: [String])
        case disconnected
        case shutdown

        var description: String {
            switch self {
            case .subscribe(let names): "subscribe \(names)"
            case .confirm(let id): "confirm \(id)"
            case .unsubscribe(let id): "unsubscribe \(id)"
            case .waitUntilReady(let id): "waitUntilReady \(id)"
            case .removeReadyWaiter(let id): "removeReadyWaiter \(id)"
            case .runLoopWaits(let cancelled): "runLoopWaits\(cancelled ? " (cancelled)" : "")"
            case .takeRunLoopWaiter: "takeRunLoopWaiter"
            case .connected(let name): "connected \(name)"
            case .resubscribed(let refused): "resubscribed, refused \(refused)"
            case .disconnected: "disconnected"
            case .shutdown: "shutdown"
            }
        }
    }

    /// An action, reduced to what a test compares; target lists are sorted.
    enum Outcome: Equatable, Sendable {
        case subscribe(id: Int, new: [String], on: String?, wake: String?)
        case fail(RedisError.Code)
        case none
        case unsubscribe([String], on: String)
        case wait
        case resume
        case removed(Int?)
        case proceed
        case park
        case runLoopWaiter(String?)
        case targets([String])
        case resumed([Int])
        case close(String?)
        case shutdown(subscriptions: Int, waiters: [Int])
    }

    enum Link: Equatable, Sendable {
        case disconnected
        case resubscribing(String)
        case ready(String)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var events: [Event]
        var outcomes: [Outcome]
        var link: Link
        var targets: [String] = []
        var waiting = 0

        var testDescription: String { self.name }
    }

    static func target(_ name: String) -> RedisSubscriptionTarget {
        RedisSubscriptionTarget(kind: .channel, name: name)
    }

    static func names(_ targets: [RedisSubscriptionTarget]) -> [String] {
        targets.map(\.name).sorted()
    }

    static func apply(_ event: Event, to state: inout State) -> Outcome {
        switch event {
        case .subscribe(let names):
            switch state.subscribe(names.map(Self.target), continuation: Stream.makeStream().continuation) {
            case .subscribe(let id, let new, let connection, let wake):
                return .subscribe(id: id, new: Self.names(new), on: connection, wake: wake)
            case .fail(let error):
                return .fail(error.code)
            }
        case .confirm(let id):
            state.confirm(id)
            return .none
        case .unsubscribe(let id):
            switch state.unsubscribe(id) {
            case .none: return .none
            case .unsubscribe(let targets, let connection): return .unsubscribe(Self.names(targets), on: connection)
            }
        case .waitUntilReady(let id):
            switch state.waitUntilReady(id, { id }) {
            case .wait: return .wait
            case .resume: return .resume
            case .fail(let error): return .fail(error.code)
            }
        case .removeReadyWaiter(let id):
            return .removed(state.removeReadyWaiter(id))
        case .runLoopWaits(let cancelled):
            switch state.runLoopWaits(isCancelled: cancelled, { "run loop" }) {
            case .proceed: return .proceed
            case .park: return .park
            }
        case .takeRunLoopWaiter:
            return .runLoopWaiter(state.takeRunLoopWaiter())
        case .connected(let connection):
            return .targets(Self.names(state.connected(connection)))
        case .resubscribed(let refused):
            let refusal = RedisError(.serverError, serverMessage: "NOPERM no permissions")
            return .resumed(state.resubscribed(refused: refused.map { (Self.target($0), refusal) }).sorted())
        case .disconnected:
            return .close(state.disconnected())
        case .shutdown:
            let action = state.shutdown()
            return .shutdown(subscriptions: action.subscriptions.count, waiters: action.readyWaiters.sorted())
        }
    }

    static func link(_ state: State) -> Link {
        switch state.link {
        case .disconnected: .disconnected
        case .resubscribing(let connection): .resubscribing(connection)
        case .ready(let connection): .ready(connection)
        }
    }

    static let cases: [Case] = [
        Case(
            name: "a first subscription wakes the parked run loop and waits for a connection",
            events: [.runLoopWaits(cancelled: false), .subscribe(["a"]), .waitUntilReady(2)],
            outcomes: [.park, .subscribe(id: 1, new: ["a"], on: nil, wake: "run loop"), .wait],
            link: .disconnected, targets: ["a"], waiting: 1),
        Case(
            name: "the run loop goes on at once while a subscription exists",
            events: [.subscribe(["a"]), .runLoopWaits(cancelled: false), .takeRunLoopWaiter],
            outcomes: [.subscribe(id: 1, new: ["a"], on: nil, wake: nil), .proceed, .runLoopWaiter(nil)],
            link: .disconnected, targets: ["a"]),
        Case(
            name: "a cancelled run loop does not park", events: [.runLoopWaits(cancelled: true)], outcomes: [.proceed],
            link: .disconnected),
        Case(
            name: "cancelling the parked run loop hands back its waiter once",
            events: [.runLoopWaits(cancelled: false), .takeRunLoopWaiter, .takeRunLoopWaiter],
            outcomes: [.park, .runLoopWaiter("run loop"), .runLoopWaiter(nil)], link: .disconnected),
        Case(
            name: "a connection resubscribes every target, and once confirmed the waiters go on",
            events: [.subscribe(["a", "b"]), .subscribe(["b", "c"]), .waitUntilReady(3), .connected("c1"), .resubscribed(refused: [])],
            outcomes: [
                .subscribe(id: 1, new: ["a", "b"], on: nil, wake: nil), .subscribe(id: 2, new: ["c"], on: nil, wake: nil), .wait,
                .targets(["a", "b", "c"]), .resumed([3]),
            ],
            link: .ready("c1"), targets: ["a", "b", "c"]),
        Case(
            name: "only targets nobody listens to yet are subscribed again",
            events: [.subscribe(["a"]), .subscribe(["a"])],
            outcomes: [.subscribe(id: 1, new: ["a"], on: nil, wake: nil), .subscribe(id: 2, new: [], on: nil, wake: nil)],
            link: .disconnected, targets: ["a"]),
        Case(
            name: "while resubscribing a new subscription subscribes on the connection but is not yet live",
            events: [.subscribe(["a"]), .connected("c1"), .subscribe(["b"]), .waitUntilReady(3)],
            outcomes: [.subscribe(id: 1, new: ["a"], on: nil, wake: nil), .targets(["a"]), .subscribe(id: 2, new: ["b"], on: "c1", wake: nil), .wait],
            link: .resubscribing("c1"), targets: ["a", "b"], waiting: 1),
        Case(
            name: "once ready a waiter goes on at once",
            events: [.subscribe(["a"]), .connected("c1"), .resubscribed(refused: []), .waitUntilReady(2)],
            outcomes: [.subscribe(id: 1, new: ["a"], on: nil, wake: nil), .targets(["a"]), .resumed([]), .resume],
            link: .ready("c1"), targets: ["a"]),
        Case(
            name: "a refused target ends its subscriptions and the others go live",
            events: [.subscribe(["a"]), .subscribe(["b"]), .connected("c1"), .resubscribed(refused: ["b"])],
            outcomes: [
                .subscribe(id: 1, new: ["a"], on: nil, wake: nil), .subscribe(id: 2, new: ["b"], on: nil, wake: nil),
                .targets(["a", "b"]), .resumed([]),
            ],
            link: .ready("c1"), targets: ["a"]),
        Case(
            name: "a lost connection is closed and the link is no longer ready",
            events: [.subscribe(["a"]), .connected("c1"), .resubscribed(refused: []), .disconnected, .waitUntilReady(2), .disconnected],
            outcomes: [.subscribe(id: 1, new: ["a"], on: nil, wake: nil), .targets(["a"]), .resumed([]), .close("c1"), .wait, .close(nil)],
            link: .disconnected, targets: ["a"], waiting: 1),
        Case(
            name: "a waiter that timed out leaves the line and is not resumed",
            events: [
                .subscribe(["a"]), .waitUntilReady(2), .removeReadyWaiter(2), .connected("c1"), .resubscribed(refused: []), .removeReadyWaiter(2),
            ],
            outcomes: [.subscribe(id: 1, new: ["a"], on: nil, wake: nil), .wait, .removed(2), .targets(["a"]), .resumed([]), .removed(nil)],
            link: .ready("c1"), targets: ["a"]),
        Case(
            name: "the last subscription to a target unsubscribes it on the connection",
            events: [.subscribe(["a", "b"]), .subscribe(["b"]), .connected("c1"), .unsubscribe(1), .unsubscribe(2), .unsubscribe(2)],
            outcomes: [
                .subscribe(id: 1, new: ["a", "b"], on: nil, wake: nil), .subscribe(id: 2, new: [], on: nil, wake: nil),
                .targets(["a", "b"]), .unsubscribe(["a"], on: "c1"), .unsubscribe(["b"], on: "c1"), .none,
            ],
            link: .resubscribing("c1")),
        Case(
            name: "without a connection an unsubscribe only forgets the targets",
            events: [.subscribe(["a"]), .unsubscribe(1), .connected("c1")],
            outcomes: [.subscribe(id: 1, new: ["a"], on: nil, wake: nil), .none, .targets([])],
            link: .resubscribing("c1")),
        Case(
            name: "shutdown ends the subscriptions and fails the waiters",
            events: [.subscribe(["a"]), .subscribe(["b"]), .waitUntilReady(3), .waitUntilReady(4), .shutdown],
            outcomes: [
                .subscribe(id: 1, new: ["a"], on: nil, wake: nil), .subscribe(id: 2, new: ["b"], on: nil, wake: nil), .wait, .wait,
                .shutdown(subscriptions: 2, waiters: [3, 4]),
            ],
            link: .disconnected, targets: ["a", "b"]),
        Case(
            name: "after shutdown subscriptions and waiters are refused and the run loop does not park",
            events: [.shutdown, .subscribe(["a"]), .waitUntilReady(1), .runLoopWaits(cancelled: false)],
            outcomes: [.shutdown(subscriptions: 0, waiters: []), .fail(.clientShutdown), .fail(.clientShutdown), .proceed],
            link: .disconnected),
        Case(
            name: "after shutdown the run loop's connection is still handed back to be closed",
            events: [.subscribe(["a"]), .connected("c1"), .shutdown, .disconnected],
            outcomes: [.subscribe(id: 1, new: ["a"], on: nil, wake: nil), .targets(["a"]), .shutdown(subscriptions: 1, waiters: []), .close("c1")],
            link: .disconnected, targets: ["a"]),
    ]

    @Test(arguments: Self.cases)
    func transitions(_ testCase: Case) {
        var state = State()
        var outcomes: [Outcome] = []
        for event in testCase.events {
            outcomes.append(Self.apply(event, to: &state))
        }
        #expect(outcomes == testCase.outcomes)
        #expect(Self.link(state) == testCase.link)
        #expect(Self.names(state.allTargets) == testCase.targets)
        #expect(state.waitingForReady == testCase.waiting)
        #expect(state.readyConnection == (testCase.link == .ready("c1") ? "c1" : nil))
    }

    // MARK: what the subscriptions' streams see

    static func message(_ text: String, on channel: String = "a") -> RedisPubSubMessage {
        RedisPubSubMessage(channel: channel, payload: ByteBuffer(string: text))
    }

    static func subscribe(_ names: [String], to state: inout State, buffer: Int = 8) -> (id: Int, stream: Stream) {
        let (stream, continuation) = Stream.makeStream(bufferingPolicy: .bufferingOldest(buffer))
        guard case .subscribe(let id, _, _, _) = state.subscribe(names.map(Self.target), continuation: continuation) else {
            Issue.record("the subscription was refused")
            return (0, stream)
        }
        return (id, stream)
    }

    static func collect(_ stream: Stream) async throws -> [RedisSubscription.Event] {
        var events: [RedisSubscription.Event] = []
        for try await event in stream { events.append(event) }
        return events
    }

    @Test func aSubscriptionLiveBeforeAReconnectGetsAGap() async throws {
        var state = State()
        let (id, stream) = Self.subscribe(["a"], to: &state)
        _ = state.connected("c1")
        _ = state.resubscribed(refused: [])
        _ = state.disconnected()
        _ = state.connected("c2")
        _ = state.resubscribed(refused: [])
        _ = state.unsubscribe(id)
        let events = try await Self.collect(stream)
        #expect(events == [.gap(RedisSubscription.Gap(reason: .reconnected, droppedMessages: nil))])
    }

    @Test func aSubscriptionConfirmedOnTheConnectionGetsAGapAfterTheNextReconnect() async throws {
        var state = State()
        _ = state.connected("c1")
        _ = state.resubscribed(refused: [])
        let (id, stream) = Self.subscribe(["a"], to: &state)
        state.confirm(id)
        _ = state.disconnected()
        _ = state.connected("c2")
        _ = state.resubscribed(refused: [])
        _ = state.unsubscribe(id)
        #expect(try await Self.collect(stream).compactMap(\.gap).map(\.reason) == [.reconnected])
    }

    /// A cluster node unsubscribes a shard channel whose slot moved away: the subscription that ends
    /// then does not unsubscribe it again (the node would answer `MOVED`); our own unsubscriptions'
    /// confirmations are not mistaken for it, and a new connection forgets it.
    @Test func aTargetTheServerDroppedIsNotUnsubscribedAgain() {
        var state = State()
        _ = state.connected("c1")
        _ = state.resubscribed(refused: [])
        let (first, _) = Self.subscribe(["a", "b"], to: &state)
        let dropped = state.serverUnsubscribed(Self.target("a"))
        let confirmation = state.serverUnsubscribed(Self.target("unknown"))
        #expect(dropped)
        #expect(!confirmation, "nobody listens to it: our own unsubscription's confirmation")
        guard case .unsubscribe(let targets, "c1") = state.unsubscribe(first) else {
            Issue.record("expected an unsubscribe of b")
            return
        }
        #expect(Self.names(targets) == ["b"])

        let (second, _) = Self.subscribe(["a"], to: &state)
        let droppedAgain = state.serverUnsubscribed(Self.target("a"))
        #expect(droppedAgain)
        _ = state.disconnected()
        _ = state.connected("c2")
        _ = state.resubscribed(refused: [])
        guard case .unsubscribe(let again, "c2") = state.unsubscribe(second) else {
            Issue.record("expected an unsubscribe of a on the new connection, where it was subscribed again")
            return
        }
        #expect(Self.names(again) == ["a"])
    }

    @Test func aRefusedTargetEndsItsSubscriptionsWithTheServersError() async throws {
        var state = State()
        let (_, refused) = Self.subscribe(["a", "b"], to: &state)
        let (kept, stream) = Self.subscribe(["a"], to: &state)
        _ = state.connected("c1")
        _ = state.resubscribed(refused: [(Self.target("b"), RedisError(.serverError, serverMessage: "NOPERM"))])
        let error = await #expect(throws: RedisError.self) { _ = try await Self.collect(refused) }
        #expect(error?.code == .serverError)
        #expect(Self.names(state.allTargets) == ["a"], "the refused subscription's other targets are gone with it")
        _ = state.unsubscribe(kept)
        #expect(try await Self.collect(stream).isEmpty)
    }

    @Test(arguments: [RedisConfiguration.OverflowPolicy.dropNewest, .fail])
    func aFullBufferFollowsTheOverflowPolicy(policy: RedisConfiguration.OverflowPolicy) async throws {
        var state = State()
        let (id, stream) = Self.subscribe(["a"], to: &state, buffer: 2)
        let dropped = ["1", "2", "3", "4"].map { state.deliver(Self.message($0), to: Self.target("a"), policy: policy) }
        #expect(dropped == [0, 0, 1, 1])
        var iterator = stream.makeAsyncIterator()
        #expect(try await iterator.next()?.message?.payload == ByteBuffer(string: "1"))
        #expect(try await iterator.next()?.message?.payload == ByteBuffer(string: "2"))
        if policy.dropsMessages {
            #expect(state.deliver(Self.message("5"), to: Self.target("a"), policy: policy) == 0)
            #expect(try await iterator.next() == .gap(RedisSubscription.Gap(reason: .overflow, droppedMessages: 2)))
            #expect(try await iterator.next()?.message?.payload == ByteBuffer(string: "5"))
            _ = state.unsubscribe(id)
            #expect(try await iterator.next() == nil)
        } else {
            let error = await #expect(throws: RedisError.self) { _ = try await iterator.next() }
            #expect(error?.code == .subscriptionOverflow)
        }
    }

    @Test func aMessageGoesOnlyToTheSubscriptionsOfItsTarget() async throws {
        var state = State()
        let (first, a) = Self.subscribe(["a"], to: &state)
        let (second, b) = Self.subscribe(["b"], to: &state)
        #expect(state.deliver(Self.message("x", on: "a"), to: Self.target("a"), policy: .fail) == 0)
        #expect(state.deliver(Self.message("y", on: "c"), to: Self.target("c"), policy: .fail) == 0)
        _ = state.unsubscribe(first)
        _ = state.unsubscribe(second)
        #expect(try await Self.collect(a).compactMap(\.message?.channel) == ["a"])
        #expect(try await Self.collect(b).isEmpty)
    }

    @Test func shutdownHandsBackEverySubscriptionToFinish() async throws {
        var state = State()
        let (_, stream) = Self.subscribe(["a"], to: &state)
        let action = state.shutdown()
        for continuation in action.subscriptions { continuation.finish(throwing: RedisError(.clientShutdown)) }
        let error = await #expect(throws: RedisError.self) { _ = try await Self.collect(stream) }
        #expect(error?.code == .clientShutdown)
    }
}
