import Synchronization
import Testing

@testable import RedisClient

/// The pool's bookkeeping, event by event: each case feeds a fresh machine a list of events and
/// compares what it answered to each with what is expected.
@Suite struct PoolStateMachineTests {
    /// A connection that closes when a test says so, as when its server goes away.
    final class FakeConnection: RedisPoolableConnection {
        let name: String
        private let closed = Atomic(false)

        init(_ name: String) { self.name = name }

        var isClosed: Bool { self.closed.load(ordering: .relaxed) }
        func close() { self.closed.store(true, ordering: .relaxed) }
    }

    typealias Machine = RedisConnectionPoolStateMachine<FakeConnection, Int>

    enum Event: Sendable, CustomStringConvertible {
        case lease
        /// A caller on an event loop: it would rather have one of the named connections.
        case leasePreferring([String])
        case enqueue(Int)
        case release(String)
        /// The connection closes on its own, leased or idle; the machine is not told.
        case closes(String)
        case connectionGone
        case removeWaiter(Int)
        case takeIdle
        case shutdown

        var description: String {
            switch self {
            case .lease: "lease"
            case .leasePreferring(let names): "lease preferring \(names)"
            case .enqueue(let id): "enqueue \(id)"
            case .release(let name): "release \(name)"
            case .closes(let name): "\(name) closes"
            case .connectionGone: "connectionGone"
            case .removeWaiter(let id): "removeWaiter \(id)"
            case .takeIdle: "takeIdle"
            case .shutdown: "shutdown"
            }
        }
    }

    /// An action, reduced to what a test compares.
    enum Outcome: Equatable, Sendable {
        case connection(String)
        case open
        case wait
        case fail(RedisError.Code)
        case none
        case grantConnection(waiter: Int, String)
        case grantOpen(waiter: Int)
        case close(String)
        case removed(Int?)
        case idle([String])
        case shutdown(waiters: [Int], idle: [String])
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var maximum = 2
        var events: [Event]
        var outcomes: [Outcome]
        var open: Int
        var idle: [String] = []
        var waiting = 0

        var testDescription: String { self.name }
    }

    static func apply(_ event: Event, to machine: inout Machine, connections: inout [String: FakeConnection]) -> Outcome {
        func connection(_ name: String) -> FakeConnection {
            if let existing = connections[name] { return existing }
            let made = FakeConnection(name)
            connections[name] = made
            return made
        }
        switch event {
        case .lease:
            return Self.outcome(machine.lease())
        case .leasePreferring(let names):
            return Self.outcome(machine.lease(preferring: { names.contains($0.name) }))
        case .enqueue(let id):
            return Self.outcome(machine.enqueue(id) { id })
        case .release(let name):
            return Self.outcome(machine.release(connection(name)))
        case .closes(let name):
            connection(name).close()
            return .none
        case .connectionGone:
            return Self.outcome(machine.connectionGone())
        case .removeWaiter(let id):
            return .removed(machine.removeWaiter(id))
        case .takeIdle:
            return .idle(machine.takeIdle().map(\.name))
        case .shutdown:
            let action = machine.shutdown()
            return .shutdown(waiters: action.waiters, idle: action.idle.map(\.name))
        }
    }

    static func outcome(_ action: Machine.LeaseAction) -> Outcome {
        switch action {
        case .grant(.connection(let connection)): .connection(connection.name)
        case .grant(.open): .open
        case .wait: .wait
        case .fail(let error): .fail(error.code)
        }
    }

    static func outcome(_ action: Machine.ReturnAction) -> Outcome {
        switch action {
        case .none: .none
        case .grant(let waiter, .connection(let connection)): .grantConnection(waiter: waiter, connection.name)
        case .grant(let waiter, .open): .grantOpen(waiter: waiter)
        case .close(let connection): .close(connection.name)
        }
    }

    static let cases: [Case] = [
        Case(name: "an empty pool grants a slot to open a connection", events: [.lease], outcomes: [.open], open: 1),
        Case(
            name: "below the bound every caller opens its own connection",
            maximum: 3, events: [.lease, .lease, .lease], outcomes: [.open, .open, .open], open: 3),
        Case(
            name: "at the bound a caller must wait", maximum: 1,
            events: [.lease, .lease], outcomes: [.open, .wait], open: 1),
        Case(
            name: "a returned connection is parked idle and handed to the next caller", maximum: 1,
            events: [.lease, .release("a"), .lease], outcomes: [.open, .none, .connection("a")], open: 1),
        Case(
            name: "the most recently returned idle connection is used first",
            events: [.lease, .lease, .release("a"), .release("b"), .lease],
            outcomes: [.open, .open, .none, .none, .connection("b")], open: 2, idle: ["a"]),
        Case(
            name: "a caller with a preference takes a preferred idle connection, though not the most recent",
            events: [.lease, .lease, .release("a"), .release("b"), .leasePreferring(["a"]), .lease],
            outcomes: [.open, .open, .none, .none, .connection("a"), .connection("b")], open: 2),
        Case(
            name: "with no preferred idle connection, a caller with a preference opens one below the bound",
            maximum: 2, events: [.lease, .release("a"), .leasePreferring(["b"])],
            outcomes: [.open, .none, .open], open: 2, idle: ["a"]),
        Case(
            name: "at the bound, a caller with a preference takes any idle connection",
            maximum: 1, events: [.lease, .release("a"), .leasePreferring(["b"])],
            outcomes: [.open, .none, .connection("a")], open: 1),
        Case(
            name: "a closed preferred connection is passed over", maximum: 1,
            events: [.lease, .release("a"), .closes("a"), .leasePreferring(["a"])],
            outcomes: [.open, .none, .none, .open], open: 1),
        Case(
            name: "at the bound with nothing idle, a caller with a preference waits", maximum: 1,
            events: [.lease, .leasePreferring(["a"])], outcomes: [.open, .wait], open: 1),
        Case(
            name: "a closed idle connection is dropped and its slot reused", maximum: 1,
            events: [.lease, .release("a"), .closes("a"), .lease],
            outcomes: [.open, .none, .none, .open], open: 1),
        Case(
            name: "a returned connection goes to the first waiter, not to the idle list", maximum: 1,
            events: [.lease, .enqueue(1), .enqueue(2), .release("a")],
            outcomes: [.open, .wait, .wait, .grantConnection(waiter: 1, "a")], open: 1, waiting: 1),
        Case(
            name: "waiters are served first come first served", maximum: 1,
            events: [.lease, .enqueue(1), .enqueue(2), .release("a"), .release("a")],
            outcomes: [.open, .wait, .wait, .grantConnection(waiter: 1, "a"), .grantConnection(waiter: 2, "a")], open: 1),
        Case(
            name: "a caller told to wait takes what was freed meanwhile instead of queueing", maximum: 1,
            events: [.lease, .lease, .release("a"), .enqueue(1)],
            outcomes: [.open, .wait, .none, .connection("a")], open: 1),
        Case(
            name: "a failed connect hands its slot to the first waiter", maximum: 1,
            events: [.lease, .enqueue(1), .connectionGone], outcomes: [.open, .wait, .grantOpen(waiter: 1)], open: 1),
        Case(
            name: "a failed connect with nobody waiting frees its slot", maximum: 1,
            events: [.lease, .connectionGone, .lease], outcomes: [.open, .none, .open], open: 1),
        Case(
            name: "a returned closed connection hands its slot to the first waiter", maximum: 1,
            events: [.lease, .enqueue(1), .closes("a"), .release("a")], outcomes: [.open, .wait, .none, .grantOpen(waiter: 1)], open: 1),
        Case(
            name: "a timed-out waiter leaves the line and is not served", maximum: 1,
            events: [.lease, .enqueue(1), .enqueue(2), .removeWaiter(1), .release("a")],
            outcomes: [.open, .wait, .wait, .removed(1), .grantConnection(waiter: 2, "a")], open: 1),
        Case(
            name: "a waiter already served is not failed by its timeout", maximum: 1,
            events: [.lease, .enqueue(1), .release("a"), .removeWaiter(1)],
            outcomes: [.open, .wait, .grantConnection(waiter: 1, "a"), .removed(nil)], open: 1),
        Case(
            name: "shutdown fails the waiters and closes the idle connections",
            events: [.lease, .lease, .release("a"), .shutdown],
            outcomes: [.open, .open, .none, .shutdown(waiters: [], idle: ["a"])], open: 1),
        Case(
            name: "shutdown fails every waiter in order", maximum: 1,
            events: [.lease, .enqueue(1), .enqueue(2), .shutdown],
            outcomes: [.open, .wait, .wait, .shutdown(waiters: [1, 2], idle: [])], open: 1),
        Case(
            name: "after shutdown a caller is refused", events: [.shutdown, .lease, .enqueue(1)],
            outcomes: [.shutdown(waiters: [], idle: []), .fail(.clientShutdown), .fail(.clientShutdown)], open: 0),
        Case(
            name: "after shutdown a returned connection is closed", maximum: 1,
            events: [.lease, .shutdown, .release("a")],
            outcomes: [.open, .shutdown(waiters: [], idle: []), .close("a")], open: 0),
        Case(
            name: "after shutdown a failed connect only frees its slot", maximum: 1,
            events: [.lease, .shutdown, .connectionGone], outcomes: [.open, .shutdown(waiters: [], idle: []), .none], open: 0),
        Case(
            name: "a health check takes the idle connections and they come back through release",
            events: [.lease, .lease, .release("a"), .release("b"), .takeIdle, .release("a"), .closes("b"), .release("b")],
            outcomes: [.open, .open, .none, .none, .idle(["a", "b"]), .none, .none, .none], open: 1, idle: ["a"]),
        Case(
            name: "a connection back from a health check goes to a waiter", maximum: 1,
            events: [.lease, .release("a"), .takeIdle, .lease, .enqueue(1), .release("a")],
            outcomes: [.open, .none, .idle(["a"]), .wait, .wait, .grantConnection(waiter: 1, "a")], open: 1),
    ]

    @Test(arguments: Self.cases)
    func transitions(_ testCase: Case) {
        var machine = Machine(maximumConnections: testCase.maximum)
        var connections: [String: FakeConnection] = [:]
        var outcomes: [Outcome] = []
        for event in testCase.events {
            outcomes.append(Self.apply(event, to: &machine, connections: &connections))
        }
        #expect(outcomes == testCase.outcomes)
        #expect(machine.open == testCase.open)
        #expect(machine.idle.map(\.name) == testCase.idle)
        #expect(machine.waiting == testCase.waiting)
    }

    @Test func waiterIDsAreDistinct() {
        var machine = Machine(maximumConnections: 1)
        let ids = (0..<100).map { _ in machine.nextWaiterID() }
        #expect(Set(ids).count == 100)
    }

    @Test func waiterIsMadeOnlyWhenItGetsInLine() {
        var machine = Machine(maximumConnections: 1)
        var made = 0
        _ = machine.enqueue(1) {
            made += 1
            return 1
        }
        #expect(made == 0, "a free slot is granted without making a waiter")
        _ = machine.enqueue(2) {
            made += 1
            return 2
        }
        #expect(made == 1)
    }
}
