extension ChannelPattern {
    /// Whether this pattern is more specific than `other`, the order in which contracts and state
    /// keys are looked up: the longer literal prefix first, then the longer pattern, then the one
    /// that sorts first byte by byte.
    public func isMoreSpecific(than other: ChannelPattern) -> Bool {
        let (left, right) = (literalPrefix.utf8.count, other.literalPrefix.utf8.count)
        if left != right { return left > right }
        let (leftLength, rightLength) = (rawValue.utf8.count, other.rawValue.utf8.count)
        return leftLength != rightLength ? leftLength > rightLength : rawValue < other.rawValue
    }
}
