@testable import SwitchyardGateway
import NIOCore
import Switchyard
import Testing

/// The session's delivery protocol without a connection: admission, deferral, catch-up, drain,
/// overflow and close, as sequences of events and the actions they return.
@Suite struct SessionDeliveryStateTests {
    typealias State = SessionDeliveryState

    enum Event: Sendable {
        /// An event of `channel` with `sequence`, admitted as `jump` says; its frame reads `channel#sequence`.
        case admit(String, Int64, State.Jump, conflatable: Bool)
        case control(String)
        case heartbeat
        case deferredHandled
        case changeStarted(resume: [String: Int64], wanted: [String])
        case changeFailed
        case changeApplied(wanted: [String], reply: String)
        /// Pops frames until the drain ends.
        case drain
        case drainEnded
        case close(UInt16, String)

        static func live(_ channel: String, _ sequence: Int64, conflatable: Bool = false) -> Event {
            .admit(channel, sequence, .deferToTask, conflatable: conflatable)
        }

        static func fill(_ channel: String, _ sequence: Int64) -> Event { .admit(channel, sequence, .reportFill, conflatable: false) }

        static func stored(_ channel: String, _ sequence: Int64) -> Event { .admit(channel, sequence, .announceGap, conflatable: false) }
    }

    enum Outcome: Equatable, Sendable {
        case admit(State.AdmitAction)
        case frame(State.FrameAction)
        case catchUps([State.CatchUp])
        case frames([String])
        case first(Bool)
        case done
    }

    struct Scenario: Sendable, CustomTestStringConvertible {
        let name: String
        var queueLimit = 64
        let steps: [(Event, Outcome)]

        var testDescription: String { name }
    }

    static let queued = Outcome.admit(.queued(scheduleDrain: false))
    static let queuedAndDrain = Outcome.admit(.queued(scheduleDrain: true))
    static let deferred = Outcome.admit(.deferToTask)
    static let dropped = Outcome.admit(.dropped)

    static func slow(_ what: String) -> State.Close {
        State.Close(code: WebSocketCloseCode.slowConsumer, reason: "slow consumer: \(what); reconnect and resume")
    }

    static func gap(_ channel: String, _ from: Int64, _ to: Int64) -> String {
        String(decoding: ServerFrame.gap(try! ChannelName(channel), from: from, to: to), as: UTF8.self)
    }

    static func catchUp(_ channel: String, after: Int64) -> State.CatchUp {
        State.CatchUp(channel: try! ChannelName(channel), after: after)
    }

    static let heartbeat = String(decoding: ServerFrame.heartbeat, as: UTF8.self)

    static let scenarios: [Scenario] = [
        Scenario(name: "the next event of a channel is queued, and only the first frame schedules a drain", steps: [
            (.live("a", 1), queuedAndDrain),
            (.live("a", 2), queued),
            (.live("b", 7), queued),
            (.drain, .frames(["a#1", "a#2", "b#7"])),
            (.live("a", 3), queuedAndDrain),
            (.drain, .frames(["a#3"])),
        ]),
        Scenario(name: "an event whose sequence was already queued is dropped, whichever path it came by", steps: [
            (.live("a", 5), queuedAndDrain),
            (.live("a", 5), dropped),
            (.live("a", 4), dropped),
            (.fill("a", 5), dropped),
            (.stored("a", 3), dropped),
            (.drain, .frames(["a#5"])),
        ]),
        Scenario(name: "a live jump is deferred, and live events of every channel wait behind it until the task has them", steps: [
            (.live("a", 1), queuedAndDrain),
            (.live("a", 3), deferred),
            (.live("b", 1), deferred),
            (.live("a", 4), deferred),
            (.fill("a", 3), .admit(.fill(after: 1))),
            (.stored("a", 2), queued),
            (.stored("a", 3), queued),
            (.deferredHandled, .done),
            (.fill("b", 1), queued),
            (.deferredHandled, .done),
            (.live("a", 5), deferred),
            (.fill("a", 4), queued),
            (.deferredHandled, .done),
            (.fill("a", 5), queued),
            (.deferredHandled, .done),
            (.live("a", 6), queued),
            (.drain, .frames(["a#1", "a#2", "a#3", "b#1", "a#4", "a#5", "a#6"])),
        ]),
        Scenario(name: "what the stream no longer holds is announced with a gap frame", steps: [
            (.live("a", 1), queuedAndDrain),
            (.stored("a", 5), queued),
            (.stored("a", 6), queued),
            (.drain, .frames(["a#1", gap("a", 2, 4), "a#5", "a#6"])),
        ]),
        Scenario(name: "a resumed channel's catch-up and its live events meet without a gap or a duplicate", steps: [
            (.changeStarted(resume: ["b": 9, "a": 3, "x": 1], wanted: ["a", "b"]), .catchUps([catchUp("a", after: 3), catchUp("b", after: 9)])),
            (.live("a", 6), deferred),
            (.changeApplied(wanted: ["a", "b"], reply: "subscribed"), .frame(.scheduleDrain)),
            (.stored("a", 4), queued),
            (.live("a", 7), deferred),
            (.stored("a", 5), queued),
            (.stored("a", 6), queued),
            (.stored("a", 7), queued),
            (.fill("a", 6), dropped),
            (.deferredHandled, .done),
            (.fill("a", 7), dropped),
            (.deferredHandled, .done),
            (.live("a", 8), queued),
            (.live("x", 2), queued),
            (.drain, .frames(["subscribed", "a#4", "a#5", "a#6", "a#7", "a#8", "x#2"])),
        ]),
        Scenario(name: "live events wait while a subscription change is under way and go out after its reply", steps: [
            (.live("a", 1), queuedAndDrain),
            (.changeStarted(resume: [:], wanted: ["a", "b"]), .catchUps([])),
            (.live("a", 2), deferred),
            (.live("b", 1), deferred),
            (.changeApplied(wanted: ["a", "b"], reply: "subscribed"), .frame(.none)),
            (.live("a", 3), deferred),
            (.fill("a", 2), queued),
            (.deferredHandled, .done),
            (.fill("b", 1), queued),
            (.deferredHandled, .done),
            (.fill("a", 3), queued),
            (.deferredHandled, .done),
            (.drain, .frames(["a#1", "subscribed", "a#2", "b#1", "a#3"])),
        ]),
        Scenario(name: "a resume point does not move a channel the session already sends", steps: [
            (.live("a", 8), queuedAndDrain),
            (.changeStarted(resume: ["a": 2], wanted: ["a"]), .catchUps([])),
            (.changeApplied(wanted: ["a"], reply: "subscribed"), .frame(.none)),
            (.live("a", 8), dropped),
            (.live("a", 9), queued),
            (.drain, .frames(["a#8", "subscribed", "a#9"])),
        ]),
        Scenario(name: "a change that fails forgets its resume points and lets live events flow", steps: [
            (.changeStarted(resume: ["a": 3], wanted: ["a"]), .catchUps([catchUp("a", after: 3)])),
            (.live("a", 9), deferred),
            (.changeFailed, .done),
            (.control("error"), .frame(.scheduleDrain)),
            (.fill("a", 9), queued),
            (.deferredHandled, .done),
            (.live("a", 10), queued),
            (.drain, .frames(["error", "a#9", "a#10"])),
        ]),
        Scenario(name: "a channel no pattern matches any more is forgotten: its next event starts it again", steps: [
            (.changeStarted(resume: [:], wanted: ["a"]), .catchUps([])),
            (.changeApplied(wanted: ["a"], reply: "subscribed"), .frame(.scheduleDrain)),
            (.live("a", 5), queued),
            (.changeStarted(resume: [:], wanted: []), .catchUps([])),
            (.changeApplied(wanted: [], reply: "unsubscribed"), .frame(.none)),
            (.live("a", 2), queued),
            (.drain, .frames(["subscribed", "a#5", "unsubscribed", "a#2"])),
        ]),
        Scenario(name: "a heartbeat goes only into an empty queue", steps: [
            (.heartbeat, .frame(.scheduleDrain)),
            (.heartbeat, .frame(.none)),
            (.drain, .frames([heartbeat])),
            (.live("a", 1), queuedAndDrain),
            (.heartbeat, .frame(.none)),
            (.drain, .frames(["a#1"])),
        ]),
        Scenario(name: "a conflatable channel keeps its newest event when the queue is full", queueLimit: 2, steps: [
            (.live("c", 1, conflatable: true), queuedAndDrain),
            (.live("c", 2, conflatable: true), queued),
            (.live("c", 3, conflatable: true), queued),
            (.live("c", 3, conflatable: true), dropped),
            (.drain, .frames(["c#3"])),
        ]),
        Scenario(name: "an event that does not fit closes the session as a slow consumer", queueLimit: 2, steps: [
            (.live("a", 1), queuedAndDrain),
            (.live("a", 2), queued),
            (.live("a", 3), .admit(.closeSlowConsumer(slow("queue full at a")))),
            (.live("a", 4), dropped),
            (.fill("a", 4), .admit(.closed)),
            (.stored("a", 4), .admit(.closed)),
            (.control("reply"), .frame(.none)),
            (.heartbeat, .frame(.none)),
            (.drain, .frames([])),
            (.close(1000, ""), .first(false)),
        ]),
        Scenario(name: "a gap frame that does not fit closes the session", queueLimit: 1, steps: [
            (.live("a", 1), queuedAndDrain),
            (.stored("a", 5), .admit(.closeSlowConsumer(slow("queue full at a")))),
        ]),
        Scenario(name: "replies the client does not read close the session", queueLimit: 1, steps: [
            (.control("one"), .frame(.scheduleDrain)),
            (.control("two"), .frame(.closeSlowConsumer(slow("the client does not read its replies")))),
            (.changeStarted(resume: [:], wanted: ["a"]), .catchUps([])),
            (.changeApplied(wanted: ["a"], reply: "subscribed"), .frame(.none)),
        ]),
        Scenario(name: "after a close nothing is queued or written, and the first close stays", steps: [
            (.live("a", 1), queuedAndDrain),
            (.close(1001, "the gateway is shutting down"), .first(true)),
            (.close(1000, ""), .first(false)),
            (.drain, .frames([])),
            (.live("a", 2), dropped),
            (.fill("a", 2), .admit(.closed)),
            (.control("reply"), .frame(.none)),
        ]),
        Scenario(name: "a drain that found the connection inactive lets the next frame schedule another", steps: [
            (.live("a", 1), queuedAndDrain),
            (.live("a", 2), queued),
            (.drainEnded, .done),
            (.live("a", 3), queuedAndDrain),
        ]),
    ]

    @Test(arguments: scenarios)
    func scenario(_ scenario: Scenario) throws {
        var state = State(queueLimit: scenario.queueLimit)
        for (index, (event, expected)) in scenario.steps.enumerated() {
            let outcome = try Self.apply(event, to: &state)
            #expect(outcome == expected, "step \(index + 1): \(event)")
        }
    }

    static func apply(_ event: Event, to state: inout State) throws -> Outcome {
        func patterns(_ names: [String]) throws -> [ChannelPattern] { try names.map { try ChannelPattern($0) } }
        switch event {
        case .admit(let channel, let sequence, let jump, let conflatable):
            return .admit(state.admit(
                channel: try ChannelName(channel), sequence: sequence, conflatable: conflatable,
                frame: ByteBuffer(string: "\(channel)#\(sequence)"), onJump: jump))
        case .control(let text):
            return .frame(state.queueControl(ByteBuffer(string: text)))
        case .heartbeat:
            return .frame(state.heartbeatDue())
        case .deferredHandled:
            state.deferredEventHandled()
            return .done
        case .changeStarted(let resume, let wanted):
            let given = try Dictionary(uniqueKeysWithValues: resume.map { (try ChannelName($0.key), $0.value) })
            return .catchUps(state.changeStarted(resume: given, wanted: try patterns(wanted)))
        case .changeFailed:
            state.changeFailed()
            return .done
        case .changeApplied(let wanted, let reply):
            return .frame(state.changeApplied(keeping: try patterns(wanted), reply: ByteBuffer(string: reply)))
        case .drain:
            var frames: [String] = []
            while let frame = state.nextFrame() { frames.append(String(buffer: frame)) }
            return .frames(frames)
        case .drainEnded:
            state.drainEnded()
            return .done
        case .close(let code, let reason):
            return .first(state.close(code: code, reason: reason))
        }
    }

    @Test(arguments: [1, 64, 100])
    func tooManyDeferredEventsCloseTheSession(queueLimit: Int) throws {
        var state = State(queueLimit: queueLimit)
        let a = try ChannelName("a")
        func live(_ sequence: Int64) -> State.AdmitAction {
            state.admit(channel: a, sequence: sequence, conflatable: false, frame: ByteBuffer(string: "a#\(sequence)"), onJump: .deferToTask)
        }
        #expect(state.deferredLimit == 4 * max(64, queueLimit))
        let first = live(1)
        #expect(first == .queued(scheduleDrain: true))
        let waiting = (3..<Int64(3 + state.deferredLimit)).map(live)
        #expect(waiting.allSatisfy { $0 == .deferToTask })
        let over = live(Int64(3 + state.deferredLimit))
        #expect(over == .closeSlowConsumer(Self.slow("events wait at a")))
        let next = state.nextFrame()
        #expect(state.isClosed && next == nil)
    }

    @Test(arguments: [
        ("", ""),
        ("the gateway is shutting down", "the gateway is shutting down"),
        (String(repeating: "x", count: 200), String(repeating: "x", count: 120)),
    ])
    func closeReasonIsCutTo120Bytes(reason: String, kept: String) {
        var state = State(queueLimit: 8)
        let first = state.close(code: WebSocketCloseCode.goingAway, reason: reason)
        #expect(first)
        #expect(state.close == State.Close(code: WebSocketCloseCode.goingAway, reason: kept))
    }

    @Test func actionsThatEndDelivery() {
        let closing: [State.AdmitAction] = [.closed, .closeSlowConsumer(Self.slow("queue full at a"))]
        let going: [State.AdmitAction] = [.queued(scheduleDrain: true), .queued(scheduleDrain: false), .dropped, .deferToTask, .fill(after: 1)]
        #expect(closing.allSatisfy { $0.isClosing })
        #expect(going.allSatisfy { !$0.isClosing })
    }
}
