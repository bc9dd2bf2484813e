/// Entries keyed by channel names or patterns, looked up by the most specific one that matches a
/// name: the exact name first, then the pattern with the longest literal prefix
/// (``ChannelPattern/isMoreSpecific(than:)``). Contracts and state keys both resolve this way.
struct PatternTable<Entry: Sendable>: Sendable {
    private let exact: [String: Entry]
    private let patterns: [(pattern: ChannelPattern, entry: Entry)]

    /// A table of entries whose patterns are distinct (callers refuse duplicates, naming them).
    init(_ entries: [Entry], pattern: (Entry) -> ChannelPattern) {
        var exact: [String: Entry] = [:]
        var patterns: [(pattern: ChannelPattern, entry: Entry)] = []
        for entry in entries {
            let key = pattern(entry)
            if key.isLiteral { exact[key.rawValue] = entry } else { patterns.append((key, entry)) }
        }
        self.exact = exact
        self.patterns = patterns.sorted { $0.pattern.isMoreSpecific(than: $1.pattern) }
    }

    /// The entry that covers `name`, or `nil` when none does.
    func entry(for name: ChannelName) -> Entry? {
        if let entry = exact[name.rawValue] { return entry }
        return patterns.first { $0.pattern.matches(name) }?.entry
    }
}
