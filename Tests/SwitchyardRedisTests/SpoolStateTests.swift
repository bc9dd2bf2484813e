import Foundation
import Switchyard
import Testing

@testable import SwitchyardRedis

/// The spool's bookkeeping without its file: what it holds after an open, which appends fit, what a
/// replay reads next, and what acknowledgements, failed stores and failed truncations leave behind.
@Suite struct SpoolStateTests {
    struct OpenCase: Sendable, CustomTestStringConvertible {
        var contents: String
        var action: SpoolState.OpenAction
        var depth: Int
        var size: UInt64

        var testDescription: String { "\(self.contents.debugDescription) opens with \(self.depth) events" }
    }

    static let openCases: [OpenCase] = [
        OpenCase(contents: "", action: .none, depth: 0, size: 0),
        OpenCase(contents: "{}\n", action: .none, depth: 1, size: 3),
        OpenCase(contents: "{}\n{}\n{}\n", action: .none, depth: 3, size: 9),
        OpenCase(contents: "{}\n{\"event", action: .closeCutLine, depth: 2, size: 11),
        OpenCase(contents: "{\"ev", action: .closeCutLine, depth: 1, size: 5),
    ]

    @Test(arguments: Self.openCases)
    func opening(_ testCase: OpenCase) {
        var state = SpoolState(maxEvents: 10, maxBytes: 1_000)
        #expect(state.opened(Data(testCase.contents.utf8)) == testCase.action)
        #expect(state.depth == testCase.depth)
        #expect(state.size == testCase.size)
        #expect(state.isSpooling == (testCase.depth > 0))
        #expect(state.nextRead == (testCase.size > 0 ? .read(from: 0, to: testCase.size) : .none))
    }

    struct BoundCase: Sendable, CustomTestStringConvertible {
        var name: String
        var held: (events: Int, bytes: Int)
        var adding: (events: Int, bytes: Int)
        var fits: Bool

        var testDescription: String { self.name }
    }

    static let boundCases: [BoundCase] = [
        BoundCase(name: "an empty spool takes a batch", held: (0, 0), adding: (3, 300), fits: true),
        BoundCase(name: "a batch that fills the spool to its event bound exactly fits", held: (8, 100), adding: (2, 100), fits: true),
        BoundCase(name: "one event past the event bound is refused", held: (8, 100), adding: (3, 100), fits: false),
        BoundCase(name: "a batch that fills the spool to its byte bound exactly fits", held: (1, 900), adding: (1, 100), fits: true),
        BoundCase(name: "one byte past the byte bound is refused", held: (1, 900), adding: (1, 101), fits: false),
        BoundCase(name: "a batch larger than the whole bound is refused", held: (0, 0), adding: (11, 100), fits: false),
    ]

    @Test(arguments: Self.boundCases)
    func bounds(_ testCase: BoundCase) {
        var state = SpoolState(maxEvents: 10, maxBytes: 1_000)
        state.appended(events: testCase.held.events, bytes: testCase.held.bytes)
        switch state.append(events: testCase.adding.events, bytes: testCase.adding.bytes) {
        case .write:
            #expect(testCase.fits)
        case .refuse(let error):
            #expect(!testCase.fits)
            #expect(error.code == .spoolFull)
            #expect(error.details["spooled_events"] == .int(Int64(testCase.held.events)))
            #expect(error.details["max_events"] == .int(10))
        }
        #expect(state.depth == testCase.held.events, "deciding alone changes nothing")
    }

    enum Event: Sendable, CustomStringConvertible {
        /// Appends this many events of 10 bytes each, when they fit.
        case append(Int)
        case read
        case acknowledge(events: Int, through: UInt64)
        case truncated

        var description: String {
            switch self {
            case .append(let events): "append \(events)"
            case .read: "read"
            case .acknowledge(let events, let offset): "acknowledge \(events) through \(offset)"
            case .truncated: "truncated"
            }
        }
    }

    enum Outcome: Equatable, Sendable {
        case written
        case refused
        case read(SpoolState.ReadAction)
        case acknowledged(SpoolState.AcknowledgeAction)
        case none
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var events: [Event]
        var outcomes: [Outcome]
        var depth: Int
        var size: UInt64
        var replayedOffset: UInt64

        var testDescription: String { self.name }
    }

    static let cases: [Case] = [
        Case(
            name: "a replay reads everything written, oldest first, and truncates after the last batch",
            events: [.append(3), .read, .acknowledge(events: 2, through: 20), .read, .acknowledge(events: 1, through: 30), .truncated, .read],
            outcomes: [
                .written, .read(.read(from: 0, to: 30)), .acknowledged(.none), .read(.read(from: 20, to: 30)), .acknowledged(.truncate), .none,
                .read(.none),
            ],
            depth: 0, size: 0, replayedOffset: 0),
        Case(
            name: "a batch whose store failed is not acknowledged and is read again",
            events: [.append(2), .read, .read],
            outcomes: [.written, .read(.read(from: 0, to: 20)), .read(.read(from: 0, to: 20))],
            depth: 2, size: 20, replayedOffset: 0),
        Case(
            name: "a failure after some batches resumes after the last acknowledged one",
            events: [.append(3), .read, .acknowledge(events: 1, through: 10), .read, .read],
            outcomes: [.written, .read(.read(from: 0, to: 30)), .acknowledged(.none), .read(.read(from: 10, to: 30)), .read(.read(from: 10, to: 30))],
            depth: 2, size: 30, replayedOffset: 10),
        Case(
            name: "events spooled during a replay are replayed after the ones before them",
            events: [.append(2), .read, .append(1), .acknowledge(events: 2, through: 20), .read, .acknowledge(events: 1, through: 30)],
            outcomes: [
                .written, .read(.read(from: 0, to: 20)), .written, .acknowledged(.none), .read(.read(from: 20, to: 30)), .acknowledged(.truncate),
            ],
            depth: 0, size: 30, replayedOffset: 30),
        Case(
            name: "a failed truncation leaves nothing to replay, and the next append is replayed from where the replay stood",
            events: [.append(1), .acknowledge(events: 1, through: 10), .read, .append(1), .read, .acknowledge(events: 1, through: 20), .truncated],
            outcomes: [.written, .acknowledged(.truncate), .read(.none), .written, .read(.read(from: 10, to: 20)), .acknowledged(.truncate), .none],
            depth: 0, size: 0, replayedOffset: 0),
        Case(
            name: "a refused batch changes nothing",
            events: [.append(9), .append(2), .read],
            outcomes: [.written, .refused, .read(.read(from: 0, to: 90))],
            depth: 9, size: 90, replayedOffset: 0),
        Case(
            name: "once replayed and truncated the spool takes a full bound again",
            events: [.append(10), .append(1), .acknowledge(events: 10, through: 100), .truncated, .append(10)],
            outcomes: [.written, .refused, .acknowledged(.truncate), .none, .written],
            depth: 10, size: 100, replayedOffset: 0),
        Case(
            name: "the depth never goes below zero when more lines are acknowledged than were counted",
            events: [.append(1), .acknowledge(events: 3, through: 5)],
            outcomes: [.written, .acknowledged(.none)],
            depth: 0, size: 10, replayedOffset: 5),
    ]

    @Test(arguments: Self.cases)
    func transitions(_ testCase: Case) {
        var state = SpoolState(maxEvents: 10, maxBytes: 1_000)
        var outcomes: [Outcome] = []
        for event in testCase.events {
            switch event {
            case .append(let events):
                switch state.append(events: events, bytes: events * 10) {
                case .write:
                    state.appended(events: events, bytes: events * 10)
                    outcomes.append(.written)
                case .refuse:
                    outcomes.append(.refused)
                }
            case .read:
                outcomes.append(.read(state.nextRead))
            case .acknowledge(let events, let offset):
                outcomes.append(.acknowledged(state.acknowledge(events: events, endOffset: offset)))
            case .truncated:
                state.truncated()
                outcomes.append(.none)
            }
        }
        #expect(outcomes == testCase.outcomes)
        #expect(state.depth == testCase.depth)
        #expect(state.size == testCase.size)
        #expect(state.replayedOffset == testCase.replayedOffset)
    }

    @Test func aSpoolCutShortByACrashIsRepairedAndReplayedAfterARestart() {
        var state = SpoolState(maxEvents: 10, maxBytes: 1_000)
        #expect(state.opened(Data("{}\n{\"cut".utf8)) == .closeCutLine)
        #expect(state.nextRead == .read(from: 0, to: 9))
        #expect(state.acknowledge(events: 1, endOffset: 9) == .truncate, "the fragment is skipped, and the file is done")
        state.truncated()
        #expect(!state.isSpooling)
    }
}
