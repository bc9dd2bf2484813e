/// A configuration that cannot be used: a config file key with the wrong type or an unknown
/// name, or a key that cannot be loaded. The description names the key (`auth.api_keys[0].grants`).
public struct GatewayConfigurationError: Error, Sendable, CustomStringConvertible {
    /// The key at fault, as a path from the file's top level.
    public let key: String
    /// What is wrong with it.
    public let message: String
    /// The config file, when the error is in one.
    public var file: String?

    /// Creates an error about `key`.
    public init(key: String, _ message: String, file: String? = nil) {
        self.key = key
        self.message = message
        self.file = file
    }

    /// `FILE: KEY: MESSAGE`, leaving out what is not known.
    public var description: String { [file, key.isEmpty ? nil : key, message].compactMap { $0 }.joined(separator: ": ") }
}
