import Foundation
import JSONSchema

/// A payload type generated from a contract (`switchyard contracts codegen --language swift`, or the
/// `SwitchyardContractsPlugin` build-tool plugin): a `Codable` struct whose members are the schema's
/// properties.
///
/// Publishing one (``Router/publish(_:to:metadata:eventID:source:state:)``) lets the compiler check the
/// payload's shape; the router then encodes it and checks it against the contract it resolves for
/// the channel, as it checks every payload, so a rule the type cannot express (a pattern, a bound,
/// a contract that changed since the type was generated) still refuses it with `validation_error`.
///
/// A contract for one channel generates a ``ChannelPayload``, which is published without naming the
/// channel; a pattern contract (`trades:*`) generates a plain `ContractPayload`, published to a
/// channel the pattern matches.
public protocol ContractPayload: Codable, Sendable {
    /// The contract's `channel` as written: a channel name, or a glob pattern.
    static var contractChannel: String { get }
    /// The contract version the type was generated from.
    static var contractVersion: Int { get }
    /// The payload schema the type was generated from, as compact JSON text.
    static var contractSchema: String { get }
}

/// A payload type generated from a contract for exactly one channel, ``ContractPayload/contractChannel``.
public protocol ChannelPayload: ContractPayload {}

extension ChannelPayload {
    /// The channel the payload is published to.
    /// - Throws: ``SwitchyardError`` (`invalid_channel`) when ``ContractPayload/contractChannel`` is not a
    ///   channel name, which a generated type never gives.
    public static func channelName() throws(SwitchyardError) -> ChannelName {
        try ChannelName(contractChannel)
    }
}

extension ContractPayload {
    /// The identifier envelopes carry in `schema` for the contract the type was generated from:
    /// `trades:order_filled@1`.
    public static var contractID: String { "\(contractChannel)@\(contractVersion)" }

    /// Checks that the type's contract covers `channel`: the contract's channel is `channel`, or a
    /// pattern that matches it.
    /// - Throws: ``SwitchyardError`` (`invalid_channel`) naming both when it does not.
    public static func checkCovers(_ channel: ChannelName) throws(SwitchyardError) {
        let pattern = try ChannelPattern(contractChannel)
        guard pattern.matches(channel) else {
            throw SwitchyardError(
                .invalidChannel, "a \(Self.self) payload belongs to the contract '\(contractChannel)', which does not cover '\(channel)'",
                details: ["channel": .string(channel.rawValue), "contract": .string(contractChannel)])
        }
    }

    /// The payload as JSON, as the router publishes it, members in the order the type encodes them
    /// (a generated type: the schema's order).
    /// - Throws: ``SwitchyardError`` (`validation_error`) when a member cannot be written as JSON (a
    ///   number that is not finite), naming it.
    public func jsonValue() throws(SwitchyardError) -> JSONValue {
        do {
            return try JSONValueEncoder().encode(self)
        } catch let error as EncodingError {
            guard case .invalidValue(_, let context) = error else { throw Self.refusal("$", "cannot be written as JSON") }
            throw Self.refusal(Self.field(context.codingPath), "cannot be written as JSON: \(context.debugDescription)")
        } catch {
            throw Self.refusal("$", "cannot be written as JSON")
        }
    }

    /// Decodes a payload, such as a received event's `data`.
    /// - Throws: ``SwitchyardError`` (`validation_error`) naming the member that is missing or of another type.
    public init(json: JSONValue) throws(SwitchyardError) {
        do {
            self = try JSONDecoder().decode(Self.self, from: Data(json.serialized().utf8))
        } catch let error as DecodingError {
            switch error {
            case .keyNotFound(let key, let context):
                throw SwitchyardError.validation(
                    missing: [Self.field(context.codingPath + [key])], invalid: [],
                    message: "The payload does not fit \(Self.self)")
            case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
                throw Self.refusal(Self.field(context.codingPath), context.debugDescription)
            @unknown default:
                throw Self.refusal("$", "does not fit \(Self.self)")
            }
        } catch {
            throw Self.refusal("$", "does not fit \(Self.self)")
        }
    }

    private static func refusal(_ field: String, _ reason: String) -> SwitchyardError {
        SwitchyardError.validation(missing: [], invalid: [(field, reason)], message: "The payload does not fit \(Self.self)")
    }

    /// A coding path as the `validation_error` names fields: `trade_data.price`, `fills.0`, `$` for the whole payload.
    private static func field(_ path: [any CodingKey]) -> String {
        path.isEmpty ? "$" : path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
}

extension Envelope {
    /// The event's `data` decoded as a generated payload type.
    /// - Throws: ``SwitchyardError`` (`validation_error`) when the data does not fit the type.
    public func payload<Payload: ContractPayload>(as type: Payload.Type) throws(SwitchyardError) -> Payload {
        try Payload(json: data)
    }
}

extension PublishRequest {
    /// A request to publish a typed payload on its contract's channel.
    /// - Throws: ``SwitchyardError`` (`validation_error`) when the payload cannot be written as JSON.
    public init(_ payload: some ChannelPayload, metadata: JSONObject = [:], eventID: EventID? = nil, source: String? = nil) throws(SwitchyardError) {
        self.init(
            channel: try type(of: payload).channelName(), payload: try payload.jsonValue(), metadata: metadata, eventID: eventID, source: source)
    }

    /// A request to publish a typed payload on `channel`, which its contract must cover (a pattern
    /// contract's payload names the channel this way).
    /// - Throws: ``SwitchyardError``: `invalid_channel` when the contract does not cover the channel,
    ///   `validation_error` when the payload cannot be written as JSON.
    public init(
        _ payload: some ContractPayload, to channel: ChannelName, metadata: JSONObject = [:], eventID: EventID? = nil, source: String? = nil
    ) throws(SwitchyardError) {
        try type(of: payload).checkCovers(channel)
        self.init(channel: channel, payload: try payload.jsonValue(), metadata: metadata, eventID: eventID, source: source)
    }
}
