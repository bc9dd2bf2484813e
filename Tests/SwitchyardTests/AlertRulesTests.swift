import JSONSchema
import Switchyard
import Testing

/// The alert rules as a pure state machine: inputs at given times in, transitions out.
@Suite struct AlertRulesTests {
    static let start: Int64 = 1_769_509_800_000

    static func at(_ seconds: Double) -> Timestamp { Timestamp(unixMilliseconds: start + Int64(seconds * 1000)) }

    static func counts(stored: Int = 0, refused: Int = 0, latencies: [Double] = []) -> PublishStatistics {
        var statistics = PublishStatistics()
        statistics.stored = stored
        statistics.refused = refused
        for latency in latencies { statistics.recordLatency(latency) }
        return statistics
    }

    @Test func errorRateFiresOnceAboveFivePercentAndResolvesWhenTheWindowRecovers() {
        var rules = AlertRules()
        #expect(rules.evaluate(AlertInputs(time: Self.at(0), publishes: ["trades:fill": Self.counts()])).isEmpty)
        // 3 refused of 60 in the window: exactly 5 %, not above.
        #expect(rules.evaluate(AlertInputs(time: Self.at(5), publishes: ["trades:fill": Self.counts(stored: 57, refused: 3)])).isEmpty)
        let fired = rules.evaluate(AlertInputs(time: Self.at(10), publishes: ["trades:fill": Self.counts(stored: 60, refused: 6)]))
        #expect(fired.count == 1)
        let alert = try! #require(fired.first)
        #expect(alert.type == "error_rate" && alert.subject == "trades:fill" && alert.severity == .high && !alert.isResolved)
        #expect(alert.details["refused"] == 6 && alert.details["publishes"] == 66)
        #expect(alert.message.contains("9.1%"), "\(alert.message)")
        // Still above: nothing new, and it is listed as firing.
        #expect(rules.evaluate(AlertInputs(time: Self.at(15), publishes: ["trades:fill": Self.counts(stored: 61, refused: 7)])).isEmpty)
        #expect(rules.firing.map(\.id) == [alert.id])
        // 70 s later the window (60 s) holds 200 good publishes and no refusal.
        let resolved = rules.evaluate(AlertInputs(time: Self.at(80), publishes: ["trades:fill": Self.counts(stored: 261, refused: 7)]))
        #expect(resolved.map(\.id) == [alert.id])
        #expect(resolved.first?.resolvedAt == Self.at(80))
        #expect(rules.firing.isEmpty)
    }

    @Test func errorRateNeedsTheMinimumSamples() {
        var rules = AlertRules()
        _ = rules.evaluate(AlertInputs(time: Self.at(0)))
        // 5 of 10 refused: 50 %, but fewer than 20 publishes in the window.
        #expect(rules.evaluate(AlertInputs(time: Self.at(5), publishes: ["a": Self.counts(stored: 5, refused: 5)])).isEmpty)
        #expect(rules.evaluate(AlertInputs(time: Self.at(6), publishes: ["a": Self.counts(stored: 15, refused: 5)])).count == 1)
    }

    @Test func latencyFiresOnTheNinetyFifthPercentile() {
        var rules = AlertRules()
        _ = rules.evaluate(AlertInputs(time: Self.at(0)))
        let fast = Array(repeating: 0.004, count: 19)
        // 1 slow of 20: the 95th percentile stays in the fast bucket.
        #expect(rules.evaluate(AlertInputs(time: Self.at(5), publishes: ["a": Self.counts(latencies: fast + [0.4])])).isEmpty)
        let slow = rules.evaluate(AlertInputs(time: Self.at(10), publishes: ["a": Self.counts(latencies: fast + Array(repeating: 0.4, count: 11))]))
        #expect(slow.map(\.type) == ["processing_latency"])
        #expect((slow.first?.details["p95_seconds"]?.doubleValue ?? 0) > 0.25)
    }

    @Test func publishesBeforeTheFirstEvaluationAreJudgedAgainstTheBaseline() {
        let slow = ["a": Self.counts(latencies: Array(repeating: 0.4, count: 16))]
        // Without a baseline the first evaluation is its own baseline: what it counts is never judged.
        var unseeded = AlertRules()
        #expect(unseeded.evaluate(AlertInputs(time: Self.at(5), publishes: slow)).isEmpty)
        #expect(unseeded.evaluate(AlertInputs(time: Self.at(6), publishes: slow)).isEmpty)
        // With the counts read when the rules were made (none), the same evaluation fires.
        var rules = AlertRules(baseline: AlertInputs(time: Self.at(0), streams: nil))
        let fired = rules.evaluate(AlertInputs(time: Self.at(5), publishes: slow))
        #expect(fired.map(\.type) == ["processing_latency"])
        #expect(fired.first?.details["samples"] == 16)
    }

    @Test func aBaselineWithoutStreamsLeavesTheTrimsToTheFirstEvaluation() {
        var rules = AlertRules(baseline: AlertInputs(time: Self.at(0), streams: nil))
        let channel = try! ChannelName("trades:fill")
        // Trims counted before the monitor started are not new: nothing fires on them.
        #expect(rules.evaluate(AlertInputs(time: Self.at(1), streams: StreamsSnapshot(trimmedUndelivered: [channel: 50]))).isEmpty)
        let fired = rules.evaluate(AlertInputs(time: Self.at(2), streams: StreamsSnapshot(trimmedUndelivered: [channel: 55])))
        #expect(fired.map(\.type) == ["retention_hard_cap"] && fired.first?.details["trimmed"] == 5)
    }

    @Test func quantilesInterpolateInsideTheirBucket() {
        let statistics = Self.counts(latencies: Array(repeating: 0.03, count: 10))
        let p50 = statistics.latencyQuantile(0.5) ?? 0
        #expect(p50 > 0.025 && p50 <= 0.05)
        #expect(PublishStatistics().latencyQuantile(0.95) == nil)
        #expect(Self.counts(latencies: [20]).latencyQuantile(0.95) == 10)
    }

    @Test func queueDepthFiresAboveAThousandPendingOrBehind() throws {
        var rules = AlertRules()
        let channel = try ChannelName("trades:fill")
        func streams(pending: Int, lag: Int) -> StreamsSnapshot {
            StreamsSnapshot(groups: [GroupDepth(channel: channel, group: "risk", pending: pending, lag: lag, lagSeconds: 3)])
        }
        #expect(rules.evaluate(AlertInputs(time: Self.at(0), streams: streams(pending: 1000, lag: 0))).isEmpty)
        let fired = rules.evaluate(AlertInputs(time: Self.at(5), streams: streams(pending: 10, lag: 1001)))
        #expect(fired.map(\.subject) == ["trades:fill risk"])
        // The engine could not be read: the alert stays as it is.
        #expect(rules.evaluate(AlertInputs(time: Self.at(10), streams: nil)).isEmpty)
        #expect(rules.firing.count == 1)
        #expect(rules.evaluate(AlertInputs(time: Self.at(15), streams: streams(pending: 1001, lag: 0))).isEmpty)
        #expect(rules.evaluate(AlertInputs(time: Self.at(20), streams: streams(pending: 0, lag: 0))).map(\.isResolved) == [true])
    }

    @Test func aServiceSilentForMoreThanThirtySecondsIsUnresponsive() {
        var rules = AlertRules()
        #expect(rules.evaluate(AlertInputs(time: Self.at(30), lastHeartbeats: ["kalshi_watchdog": Self.at(0)])).isEmpty)
        let fired = rules.evaluate(AlertInputs(time: Self.at(31), lastHeartbeats: ["kalshi_watchdog": Self.at(0)]))
        #expect(fired.map(\.subject) == ["kalshi_watchdog"])
        #expect(fired.first?.type == "service_unresponsive")
        let back = rules.evaluate(AlertInputs(time: Self.at(40), lastHeartbeats: ["kalshi_watchdog": Self.at(39)]))
        #expect(back.map(\.id) == fired.map(\.id) && back.allSatisfy(\.isResolved))
    }

    @Test func theSpoolInUseFiresUntilItIsEmpty() {
        var rules = AlertRules()
        #expect(rules.evaluate(AlertInputs(time: Self.at(0), spoolDepth: 0)).isEmpty)
        #expect(rules.evaluate(AlertInputs(time: Self.at(5), spoolDepth: 3)).map(\.type) == ["spool_in_use"])
        #expect(rules.evaluate(AlertInputs(time: Self.at(10), spoolDepth: 40)).isEmpty)
        #expect(rules.evaluate(AlertInputs(time: Self.at(15), spoolDepth: 0)).map(\.isResolved) == [true])
    }

    @Test func hardCapTrimsFireWhileTheCountGrowsWithinTheWindow() throws {
        var rules = AlertRules()
        let channel = try ChannelName("trades:fill")
        func trims(_ count: Int) -> StreamsSnapshot { StreamsSnapshot(trimmedUndelivered: count > 0 ? [channel: count] : [:]) }
        // Trims from before the rules started are not news.
        #expect(rules.evaluate(AlertInputs(time: Self.at(0), streams: trims(5))).isEmpty)
        let fired = rules.evaluate(AlertInputs(time: Self.at(5), streams: trims(25)))
        #expect(fired.map(\.type) == ["retention_hard_cap"])
        #expect(fired.first?.severity == .critical && fired.first?.details["trimmed"] == 20)
        #expect(rules.evaluate(AlertInputs(time: Self.at(200), streams: trims(25))).isEmpty)
        // Five minutes without a new trim.
        #expect(rules.evaluate(AlertInputs(time: Self.at(400), streams: trims(25))).map(\.isResolved) == [true])
    }

    @Test func aDisabledRuleNeverFiresAndThresholdsAreTheConfigured() {
        var configuration = AlertConfiguration()
        configuration.spoolInUse.enabled = false
        configuration.queueDepth.threshold = 10
        var rules = AlertRules(configuration: configuration)
        #expect(rules.evaluate(AlertInputs(time: Self.at(0), spoolDepth: 100)).isEmpty)
        let depth = GroupDepth(channel: try! ChannelName("a"), group: "g", pending: 11, lag: 0, lagSeconds: 0)
        #expect(rules.evaluate(AlertInputs(time: Self.at(5), streams: StreamsSnapshot(groups: [depth]))).map(\.type) == ["queue_depth"])
    }

    @Test func firedAndResolvedPayloadsSatisfyTheErrorAlertContract() throws {
        let contract = try #require(try ContractRegistry.shipped().contract(for: AlertConfiguration.defaultChannel))
        var rules = AlertRules()
        let fired = rules.evaluate(AlertInputs(time: Self.at(0), spoolDepth: 2))
        let resolved = rules.evaluate(AlertInputs(time: Self.at(5), spoolDepth: 0))
        for alert in fired + resolved {
            let payload = alert.payload(service: "switchyard-gateway")
            try contract.validate(payload)
            #expect(payload["alert_id"] == .string(alert.id))
            #expect(payload["resolved"] == .bool(alert.isResolved))
        }
        #expect(resolved.first?.payload(service: "s")["timestamp"] == .string(Self.at(5).description))
    }

    @Test func severitiesAreTheContractsLevels() {
        #expect(AlertSeverity("urgent") == nil)
        #expect(AlertSeverity("critical") == .critical)
        #expect(AlertSeverity.all.map(\.rawValue) == ["info", "low", "medium", "high", "critical"])
    }
}
