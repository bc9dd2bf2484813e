import Testing

@testable import Switchyard

/// A live consumer's decisions without an engine: discovery and where the group starts, when a
/// read looks for new channels, the waits after failures, claim cursors, and stopping.
@Suite struct ConsumerLoopStateTests {
    typealias State = ConsumerLoopState

    enum Event: Sendable {
        /// A discovery found these channels and created the group on the new ones.
        case discover([String])
        /// A discovery found these channels, but creating the group failed.
        case discoveryFailed([String])
        case read(now: Int64, cancelled: Bool = false)
        case readSucceeded(deliveries: Int)
        case readFailed(cancelled: Bool = false)
        case claimPass(cancelled: Bool = false)
        case cursor(String)
        case claimed(String, StreamPosition)
    }

    enum Outcome: Equatable, Sendable {
        case discovered(creations: [State.GroupCreation], channels: [String])
        case creations([State.GroupCreation])
        case read(State.ReadAction)
        case wait(State.WaitAction)
        case cursor(StreamPosition)
        case done
    }

    struct Scenario: Sendable, CustomTestStringConvertible {
        let name: String
        let steps: [(Event, Outcome)]

        var testDescription: String { name }
    }

    static let options = ConsumerOptions(claimInterval: .seconds(2), blockTimeout: .seconds(1), start: .newest)

    static func create(_ channel: String, _ start: GroupStart) -> State.GroupCreation {
        State.GroupCreation(channel: try! ChannelName(channel), start: start)
    }

    static let scenarios: [Scenario] = [
        Scenario(name: "the group starts as configured on the first discovery's channels, and from the beginning on later ones", steps: [
            (.discover(["b", "a"]), .discovered(creations: [create("a", .newest), create("b", .newest)], channels: ["a", "b"])),
            (.discover(["a", "c", "b"]), .discovered(creations: [create("c", .beginning)], channels: ["a", "b", "c"])),
            (.discover(["a"]), .discovered(creations: [], channels: ["a", "b", "c"])),
        ]),
        Scenario(name: "a creation that failed is tried again with the same start", steps: [
            (.discoveryFailed(["a"]), .creations([create("a", .newest)])),
            (.discover(["a", "b"]), .discovered(creations: [create("a", .newest), create("b", .newest)], channels: ["a", "b"])),
        ]),
        Scenario(name: "the first read looks for channels, even right after the initial discovery", steps: [
            (.discover(["a"]), .discovered(creations: [create("a", .newest)], channels: ["a"])),
            (.read(now: 0), .read(.read(discover: true))),
        ]),
        Scenario(name: "an idle consumer looks for channels before every read, a busy one every 500 ms", steps: [
            (.read(now: 1_000), .read(.read(discover: true))),
            (.discover(["a"]), .discovered(creations: [create("a", .newest)], channels: ["a"])),
            (.readSucceeded(deliveries: 3), .done),
            (.read(now: 1_100), .read(.read(discover: false))),
            (.readSucceeded(deliveries: 2), .done),
            (.read(now: 1_499), .read(.read(discover: false))),
            (.readSucceeded(deliveries: 1), .done),
            (.read(now: 1_500), .read(.read(discover: true))),
            (.discover(["a"]), .discovered(creations: [], channels: ["a"])),
            (.readSucceeded(deliveries: 0), .done),
            (.read(now: 1_501), .read(.read(discover: true))),
        ]),
        Scenario(name: "a discovery that failed is asked for again by the next read", steps: [
            (.read(now: 0), .read(.read(discover: true))),
            (.discover(["a"]), .discovered(creations: [create("a", .newest)], channels: ["a"])),
            (.readSucceeded(deliveries: 5), .done),
            (.read(now: 600), .read(.read(discover: true))),
            (.discoveryFailed(["a", "b"]), .creations([create("b", .beginning)])),
            (.readFailed(), .wait(.wait(.seconds(1)))),
            (.read(now: 700), .read(.read(discover: true))),
            (.discover(["a", "b"]), .discovered(creations: [create("b", .beginning)], channels: ["a", "b"])),
            (.readSucceeded(deliveries: 1), .done),
            (.read(now: 800), .read(.read(discover: false))),
            (.read(now: 1_200), .read(.read(discover: true))),
        ]),
        Scenario(name: "a failed read keeps the consumer's busy or idle state", steps: [
            (.read(now: 0), .read(.read(discover: true))),
            (.discover(["a"]), .discovered(creations: [create("a", .newest)], channels: ["a"])),
            (.readSucceeded(deliveries: 5), .done),
            (.read(now: 10), .read(.read(discover: false))),
            (.readFailed(), .wait(.wait(.seconds(1)))),
            (.read(now: 20), .read(.read(discover: false))),
        ]),
        Scenario(name: "a cancelled consumer stops reading and claiming, also after a failure", steps: [
            (.read(now: 0, cancelled: true), .read(.stop)),
            (.readFailed(cancelled: true), .wait(.stop)),
            (.claimPass(cancelled: true), .wait(.stop)),
        ]),
        Scenario(name: "claim passes come every claim interval, each channel's claim going on from its own cursor", steps: [
            (.claimPass(), .wait(.wait(.seconds(2)))),
            (.cursor("a"), .cursor(.start)),
            (.claimed("a", StreamPosition(milliseconds: 5, counter: 1)), .done),
            (.cursor("a"), .cursor(StreamPosition(milliseconds: 5, counter: 1))),
            (.cursor("b"), .cursor(.start)),
            (.claimed("a", .start), .done),
            (.cursor("a"), .cursor(.start)),
        ]),
    ]

    @Test(arguments: scenarios)
    func scenario(_ scenario: Scenario) throws {
        var state = State(options: Self.options)
        for (index, (event, expected)) in scenario.steps.enumerated() {
            let outcome = try Self.apply(event, to: &state)
            #expect(outcome == expected, "step \(index + 1): \(event)")
        }
    }

    static func apply(_ event: Event, to state: inout State) throws -> Outcome {
        func names(_ channels: [String]) throws -> Set<ChannelName> { Set(try channels.map { try ChannelName($0) }) }
        switch event {
        case .discover(let channels):
            let found = try names(channels)
            let creations = state.groupsToCreate(found: found)
            return .discovered(creations: creations, channels: state.discovered(found).map(\.rawValue))
        case .discoveryFailed(let channels):
            return .creations(state.groupsToCreate(found: try names(channels)))
        case .read(let now, let cancelled):
            return .read(state.nextRead(now: now, isCancelled: cancelled))
        case .readSucceeded(let deliveries):
            state.readSucceeded(deliveries: deliveries)
            return .done
        case .readFailed(let cancelled):
            return .wait(state.readFailed(isCancelled: cancelled))
        case .claimPass(let cancelled):
            return .wait(state.nextClaimPass(isCancelled: cancelled))
        case .cursor(let channel):
            return .cursor(state.claimCursor(for: try ChannelName(channel)))
        case .claimed(let channel, let cursor):
            state.claimed(on: try ChannelName(channel), cursor: cursor)
            return .done
        }
    }
}

/// One delivery's retry rules without a handler or an engine: ack, retry after a backoff,
/// dead-letter, or leave pending when the consumer stops.
@Suite struct DeliveryAttemptsTests {
    typealias Attempts = DeliveryAttempts

    enum Event: Sendable {
        case start
        case refused
        case succeeded
        case failed(cancelled: Bool = false)
        case backoffEnded(interrupted: Bool = false)
    }

    struct Scenario: Sendable, CustomTestStringConvertible {
        let name: String
        /// The entry's delivery count, this delivery included.
        var deliveries = 1
        var options = ConsumerOptions(maxDeliveries: 3, backoff: .init(initial: .milliseconds(100), multiplier: 2, maximum: .seconds(1)))
        var waitsBetweenRetries = true
        let steps: [(Event, Attempts.Action)]

        var testDescription: String { name }
    }

    static let scenarios: [Scenario] = [
        Scenario(name: "a handler that succeeds acks the entry", steps: [
            (.start, .run(attempt: 1)),
            (.succeeded, .ack),
        ]),
        Scenario(name: "a failure is retried after the backoff, and a later success acks", steps: [
            (.start, .run(attempt: 1)),
            (.failed(), .retry(after: .milliseconds(100))),
            (.backoffEnded(), .run(attempt: 2)),
            (.succeeded, .ack),
        ]),
        Scenario(name: "a handler that keeps failing is dead-lettered on the last delivery allowed", steps: [
            (.start, .run(attempt: 1)),
            (.failed(), .retry(after: .milliseconds(100))),
            (.backoffEnded(), .run(attempt: 2)),
            (.failed(), .retry(after: .milliseconds(200))),
            (.backoffEnded(), .run(attempt: 3)),
            (.failed(), .deadLetter(.handlerFailed, deliveries: 3)),
        ]),
        Scenario(name: "a reclaimed entry goes on from its delivery count", deliveries: 2, steps: [
            (.start, .run(attempt: 2)),
            (.failed(), .retry(after: .milliseconds(200))),
            (.backoffEnded(), .run(attempt: 3)),
            (.failed(), .deadLetter(.handlerFailed, deliveries: 3)),
        ]),
        Scenario(name: "an entry delivered as often as allowed runs once more", deliveries: 3, steps: [
            (.start, .run(attempt: 3)),
            (.succeeded, .ack),
        ]),
        Scenario(name: "an entry delivered more often than allowed is dead-lettered without running", deliveries: 4, steps: [
            (.start, .deadLetter(.unacked(times: 3), deliveries: 4)),
        ]),
        Scenario(name: "an event that does not verify is dead-lettered at once", deliveries: 2, steps: [
            (.refused, .deadLetter(.refused, deliveries: 2)),
        ]),
        Scenario(name: "a handler that fails because the consumer stops leaves the entry pending", steps: [
            (.start, .run(attempt: 1)),
            (.failed(cancelled: true), .leavePending),
        ]),
        Scenario(name: "a stop during the backoff leaves the entry pending", steps: [
            (.start, .run(attempt: 1)),
            (.failed(), .retry(after: .milliseconds(100))),
            (.backoffEnded(interrupted: true), .leavePending),
        ]),
        Scenario(name: "in backtest mode a retry does not wait", waitsBetweenRetries: false, steps: [
            (.start, .run(attempt: 1)),
            (.failed(), .retry(after: nil)),
            (.backoffEnded(), .run(attempt: 2)),
            (.failed(), .retry(after: nil)),
            (.backoffEnded(), .run(attempt: 3)),
            (.failed(), .deadLetter(.handlerFailed, deliveries: 3)),
        ]),
        Scenario(name: "with one delivery allowed, the first failure dead-letters", options: ConsumerOptions(maxDeliveries: 1), steps: [
            (.start, .run(attempt: 1)),
            (.failed(), .deadLetter(.handlerFailed, deliveries: 1)),
        ]),
        Scenario(
            name: "the backoff grows by its multiplier up to its maximum",
            options: ConsumerOptions(maxDeliveries: 10, backoff: .init(initial: .milliseconds(100), multiplier: 2, maximum: .milliseconds(300))),
            steps: [
                (.start, .run(attempt: 1)),
                (.failed(), .retry(after: .milliseconds(100))),
                (.backoffEnded(), .run(attempt: 2)),
                (.failed(), .retry(after: .milliseconds(200))),
                (.backoffEnded(), .run(attempt: 3)),
                (.failed(), .retry(after: .milliseconds(300))),
                (.backoffEnded(), .run(attempt: 4)),
                (.failed(), .retry(after: .milliseconds(300))),
            ]),
    ]

    @Test(arguments: scenarios)
    func scenario(_ scenario: Scenario) {
        var attempts = Attempts(deliveries: scenario.deliveries, options: scenario.options, waitsBetweenRetries: scenario.waitsBetweenRetries)
        for (index, (event, expected)) in scenario.steps.enumerated() {
            let action: Attempts.Action
            switch event {
            case .start: action = attempts.start()
            case .refused: action = attempts.refused()
            case .succeeded: action = attempts.handlerSucceeded()
            case .failed(let cancelled): action = attempts.handlerFailed(isCancelled: cancelled)
            case .backoffEnded(let interrupted): action = attempts.backoffEnded(interrupted: interrupted)
            }
            #expect(action == expected, "step \(index + 1): \(event)")
        }
    }
}
