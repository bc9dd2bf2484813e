import ArgumentParser
import Crypto
import Foundation
import Switchyard
import SwitchyardRedis
import SwitchyardServer

/// `switchyard acl`: prints one `ACL SETUSER` line per service the contracts name.
struct ACLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acl",
        abstract: "Print Redis ACL users for the services named in the contracts' producers and consumers.",
        discussion: """
            One `ACL SETUSER` line per service, for redis-cli (`switchyard acl | redis-cli`) or an ACL \
            file's `user` lines after dropping `ACL SETUSER`. Each service's password is read from \
            the environment variable PREFIX + the service name upper-cased with other characters as \
            `_` (SWITCHYARD_REDIS_PASSWORD_TRADE_EXECUTOR for trade_executor) and printed only as its \
            SHA-256 (`#…`). A missing variable exits 1 naming it. --nopass makes users that accept \
            any password: for throwaway test servers only. --gateway-user NAME adds the user the gateway \
            itself connects as (every channel's keys, no administrative command). See docs/security.md.
            """)

    @Option(help: ArgumentHelp("The contracts folder (default: SWITCHYARD_CONTRACTS, else the shipped contracts).", valueName: "DIR"))
    var contracts: String?
    @Option(help: ArgumentHelp("A JSON config file (default: SWITCHYARD_CONFIG); its contracts folder applies. See docs/configuration.md.", valueName: "FILE"))
    var config: String?
    @Option(help: ArgumentHelp("The prefix of the password variables.", valueName: "PREFIX"))
    var passwordEnvPrefix = "SWITCHYARD_REDIS_PASSWORD_"
    @Flag(help: "Users without a password (nopass): for throwaway test servers only.")
    var nopass = false
    @Option(help: ArgumentHelp("Prepended to every user name (the rate-limit keys keep the service name).", valueName: "PREFIX"))
    var userPrefix = ""
    @Option(help: ArgumentHelp("Also print the ACL user the gateway (switchyard serve) connects as, with this name; its password variable is named like a service's.", valueName: "NAME"))
    var gatewayUser: String?

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let directory = try GlobalOptions(contracts: contracts, config: config).settings().contracts
        let registry = try directory.map { try ContractRegistry.load(from: $0) } ?? ContractRegistry.shipped()
        do {
            print(
                try Self.lines(
                    registry, environment: environment, passwordEnvPrefix: passwordEnvPrefix, nopass: nopass, userPrefix: userPrefix,
                    gatewayUser: gatewayUser))
        } catch let error as MissingPassword {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// The output: a comment naming where it came from, then one line per user.
    static func lines(
        _ registry: ContractRegistry, environment: [String: String], passwordEnvPrefix: String, nopass: Bool, userPrefix: String,
        gatewayUser: String? = nil
    ) throws -> String {
        func password(_ service: String) throws -> RedisACL.Password {
            if nopass { return .none }
            let name = passwordVariable(service, prefix: passwordEnvPrefix)
            guard let password = EnvironmentVariables(environment)[name] else { throw MissingPassword(variable: name, service: service) }
            return .sha256(SHA256.hash(data: Data(password.utf8)).map { String(format: "%02x", $0) }.joined())
        }
        let acl = RedisACL(userPrefix: userPrefix)
        var users = try acl.users(for: registry, password: password)
        if let gatewayUser { users.append(try acl.gatewayUser(named: gatewayUser, password: try password(gatewayUser))) }
        var lines = ["# switchyard acl: \(users.count) users\(nopass ? "; nopass: FOR THROWAWAY TEST SERVERS ONLY" : "")"]
        lines += users.map(\.line)
        return lines.joined(separator: "\n")
    }

    /// `PREFIX` + the service upper-cased, every character other than A-Z and 0-9 as `_`.
    static func passwordVariable(_ service: String, prefix: String) -> String {
        prefix + String(service.uppercased().map { ($0.isASCII && ($0.isLetter || $0.isNumber)) ? $0 : "_" })
    }
}

/// A service whose password variable is not set.
struct MissingPassword: Error, CustomStringConvertible {
    var variable: String
    var service: String
    var description: String { "\(variable) is not set: it holds the Redis password of the service '\(service)' (or pass --nopass for a test server)" }
}
