import JSONSchema
import Switchyard
import SwitchyardGateway

extension ServerSettings {
    /// Reads the config file's `alerts` object: `enabled`, `interval_seconds`,
    /// `keep_resolved_seconds`, and `rules`, whose keys are the rule names
    /// (``Switchyard/AlertConfiguration/RuleName``), each with `enabled`, `threshold`,
    /// `window_seconds`, `min_samples` and `severity`. Keys left out keep their defaults.
    /// - Throws: ``GatewayConfigurationError`` naming the key at fault.
    static func alerts(_ alerts: ConfigObject) throws(GatewayConfigurationError) -> (enabled: Bool?, configuration: AlertConfiguration) {
        var configuration = AlertConfiguration()
        if let seconds = try alerts.seconds("interval_seconds") { configuration.interval = seconds }
        if let seconds = try alerts.seconds("keep_resolved_seconds") { configuration.keepResolved = seconds }
        let names = Set(AlertConfiguration.RuleName.all)
        if let rules = try alerts.object("rules", known: names) {
            for name in AlertConfiguration.RuleName.all {
                guard let object = try rules.object(name, known: ["enabled", "threshold", "window_seconds", "min_samples", "severity"]),
                    var rule = configuration[rule: name]
                else { continue }
                rule.enabled = try object.bool("enabled") ?? rule.enabled
                if let threshold = try object.number("threshold") {
                    guard threshold >= 0, name != AlertConfiguration.RuleName.errorRate || threshold <= 1 else {
                        let range = name == AlertConfiguration.RuleName.errorRate ? "between 0 and 1 (a share: 0.05 is 5 %)" : "0 or more"
                        throw GatewayConfigurationError(key: "\(object.path).threshold", "must be \(range)")
                    }
                    rule.threshold = threshold
                }
                if let window = try object.seconds("window_seconds") { rule.window = window }
                if let samples = try object.int("min_samples") {
                    guard samples >= 1 else { throw GatewayConfigurationError(key: "\(object.path).min_samples", "must be 1 or more") }
                    rule.minimumSamples = samples
                }
                if let text = try object.string("severity") {
                    guard let severity = AlertSeverity(text) else {
                        throw GatewayConfigurationError(
                            key: "\(object.path).severity", "must be one of \(AlertSeverity.all.map(\.rawValue).joined(separator: ", "))")
                    }
                    rule.severity = severity
                }
                configuration[rule: name] = rule
            }
        }
        return (try alerts.bool("enabled"), configuration)
    }
}

extension ConfigObject {
    func number(_ key: String) throws(GatewayConfigurationError) -> Double? {
        guard let value = try value(key) else { return nil }
        guard let number = value.doubleValue else { throw GatewayConfigurationError(key: Self.join(path, key), "must be a number") }
        return number
    }

    /// A positive number of seconds, as a duration.
    func seconds(_ key: String) throws(GatewayConfigurationError) -> Duration? {
        guard let seconds = try number(key) else { return nil }
        guard seconds > 0, seconds <= 86_400 * 365 else {
            throw GatewayConfigurationError(key: Self.join(path, key), "must be a number of seconds above 0")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}
