/// Why a benchmark could not run: a bad configuration, a channel without a usable contract, a
/// gateway that did not answer.
public struct BenchError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, in one or more sentences.
    public let message: String

    /// An error with `message`.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
