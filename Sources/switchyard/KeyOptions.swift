import ArgumentParser
import Foundation
import Switchyard
import SwitchyardGateway
import SwitchyardServer

/// The signing and encryption keys of the commands that publish (`serve`, `relay`, `reconcile`,
/// and the client commands with `--redis`): a flag naming a file, else `SWITCHYARD_SIGNING_KEYS`
/// (the keys) or `SWITCHYARD_SIGNING_KEYS_FILE`, and the same for `SWITCHYARD_ENCRYPTION_KEYS`.
/// Secrets are never taken on the command line itself.
struct KeyOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "A file of HMAC-SHA256 keys (ID:BASE64 lines, newest first) to sign and verify events of critical channels (default: SWITCHYARD_SIGNING_KEYS or SWITCHYARD_SIGNING_KEYS_FILE).",
        valueName: "FILE"))
    var signingKeysFile: String?
    @Option(help: ArgumentHelp(
        "A file of AES-256-GCM keys (ID:BASE64 lines, newest first) to seal sensitive fields (default: SWITCHYARD_ENCRYPTION_KEYS or SWITCHYARD_ENCRYPTION_KEYS_FILE).",
        valueName: "FILE"))
    var encryptionKeysFile: String?

    /// Where the signing keys come from: the flag, else the environment.
    func signingSource(_ environment: [String: String]) throws(GatewayConfigurationError) -> ServerSettings.KeySource? {
        if let signingKeysFile { return .file(signingKeysFile) }
        return try ServerSettings.KeySource(environment: environment, variable: ServerSettings.KeySource.signingVariable)
    }

    /// Where the encryption keys come from: the flag, else the environment.
    func encryptionSource(_ environment: [String: String]) throws(GatewayConfigurationError) -> ServerSettings.KeySource? {
        if let encryptionKeysFile { return .file(encryptionKeysFile) }
        return try ServerSettings.KeySource(environment: environment, variable: ServerSettings.KeySource.encryptionVariable)
    }

    /// The key rings, loaded.
    /// - Throws: `ValidationError` naming the file or variable and what is wrong, never a secret.
    func rings(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> (signing: KeyRing?, encryption: KeyRing?) {
        do {
            return (
                try signingSource(environment)?.load(purpose: .signing, key: "signing keys"),
                try encryptionSource(environment)?.load(purpose: .encryption, key: "encryption keys")
            )
        } catch {
            throw ValidationError(error.description)
        }
    }
}
