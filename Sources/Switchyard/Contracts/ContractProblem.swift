/// One problem in a contract folder: the file, the place in it, and what is wrong.
public struct ContractProblem: Sendable, Hashable, CustomStringConvertible {
    /// The file's path.
    public let file: String
    /// A JSON Pointer into the file (`/policy/retention`) or a line and column for syntax errors.
    public let location: String
    /// What is wrong.
    public let message: String

    public var description: String { "\(file) \(location): \(message)" }
}

/// A contract folder that could not be loaded, with every problem found.
public struct ContractFolderError: Error, Sendable, CustomStringConvertible {
    /// The problems, each naming its file and place.
    public let problems: [ContractProblem]

    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}
