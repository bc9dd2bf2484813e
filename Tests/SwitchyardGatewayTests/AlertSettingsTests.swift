import Foundation
import Switchyard
import SwitchyardGateway
import SwitchyardServer
import Testing

/// The config file's `alerts` object.
@Suite struct AlertSettingsTests {
    func parse(_ text: String) throws(GatewayConfigurationError) -> ServerSettings {
        try ServerSettings(parsing: Array(text.utf8))
    }

    func failure(_ text: String) -> String {
        do {
            _ = try parse(text)
            return "parsed"
        } catch {
            return error.description
        }
    }

    @Test func theExampleFileSetsSomeRulesAndKeepsTheOthersDefaults() throws {
        let settings = try ServerSettings(file: ServerSettingsTests.repositoryRoot + "/docs/examples/switchyard.json")
        let alerts = try #require(settings.alerts)
        #expect(settings.alertsEnabled == nil)
        #expect(alerts.interval == .seconds(5))
        #expect(alerts.queueDepth.threshold == 5000 && alerts.queueDepth.severity == .critical)
        #expect(!alerts.spoolInUse.enabled)
        #expect(alerts.errorRate == AlertConfiguration().errorRate)
        #expect(alerts.processingLatency == AlertConfiguration().processingLatency)
    }

    @Test func everyKeyIsRead() throws {
        let settings = try parse("""
            {"alerts": {"enabled": true, "interval_seconds": 0.5, "keep_resolved_seconds": 60,
              "rules": {"processing_latency": {"enabled": false, "threshold": 0.25, "window_seconds": 120, "min_samples": 3, "severity": "low"},
                        "retention_hard_cap": {"window_seconds": 30}}}}
            """)
        let alerts = try #require(settings.alerts)
        #expect(settings.alertsEnabled == true)
        #expect(alerts.interval == .milliseconds(500) && alerts.keepResolved == .seconds(60))
        #expect(alerts.processingLatency == AlertConfiguration.Rule(
            enabled: false, threshold: 0.25, window: .seconds(120), minimumSamples: 3, severity: .low))
        #expect(alerts.retentionHardCap.window == .seconds(30) && alerts.retentionHardCap.severity == .critical)
        #expect(try parse(#"{"alerts": {"enabled": false}}"#).alertsEnabled == false)
        #expect(try parse("{}").alerts == nil)
    }

    @Test func badValuesNameTheKey() {
        #expect(failure(#"{"alerts": {"rules": {"queue_depht": {}}}}"#).hasPrefix("alerts.rules.queue_depht: unknown key; known keys here: error_rate"))
        #expect(failure(#"{"alerts": {"rules": {"error_rate": {"threshold": 5}}}}"#).hasPrefix("alerts.rules.error_rate.threshold: must be between 0 and 1"))
        #expect(failure(#"{"alerts": {"rules": {"queue_depth": {"threshold": -1}}}}"#) == "alerts.rules.queue_depth.threshold: must be 0 or more")
        #expect(failure(#"{"alerts": {"rules": {"queue_depth": {"threshold": "many"}}}}"#) == "alerts.rules.queue_depth.threshold: must be a number")
        #expect(failure(#"{"alerts": {"rules": {"spool_in_use": {"severity": "urgent"}}}}"#).hasPrefix("alerts.rules.spool_in_use.severity: must be one of info, low"))
        #expect(failure(#"{"alerts": {"rules": {"error_rate": {"min_samples": 0}}}}"#) == "alerts.rules.error_rate.min_samples: must be 1 or more")
        #expect(failure(#"{"alerts": {"interval_seconds": 0}}"#) == "alerts.interval_seconds: must be a number of seconds above 0")
        #expect(failure(#"{"alerts": {"enabled": "no"}}"#) == "alerts.enabled: must be true or false")
        #expect(failure(#"{"alerts": {"every": 5}}"#).hasPrefix("alerts.every: unknown key"))
    }
}
