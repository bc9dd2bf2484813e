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

    /// The settings these flags set: the key files, when given.
    var layer: ServerSettings {
        ServerSettings(signingKeys: signingKeysFile.map { .file($0) }, encryptionKeys: encryptionKeysFile.map { .file($0) })
    }

    /// The key rings the resolved `settings` name (a flag's file, else `SWITCHYARD_SIGNING_KEYS`
    /// or `SWITCHYARD_SIGNING_KEYS_FILE`, else the config file's; the same for encryption), loaded.
    /// - Throws: `ValidationError` naming the file or variable and what is wrong, never a secret.
    static func rings(_ settings: ServerSettings) throws -> (signing: KeyRing?, encryption: KeyRing?) {
        do {
            return (
                try settings.signingKeys?.load(purpose: .signing, key: "signing keys"),
                try settings.encryptionKeys?.load(purpose: .encryption, key: "encryption keys")
            )
        } catch {
            throw ValidationError(error.description)
        }
    }
}
