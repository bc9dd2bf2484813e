/// A stream entry id in Redis's shape, `<milliseconds>-<counter>`: increasing within a channel.
package struct EntryID: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var milliseconds: Int64
    package var counter: UInt64

    package static let zero = EntryID(milliseconds: 0, counter: 0)
    package static let max = EntryID(milliseconds: .max, counter: .max)

    package init(milliseconds: Int64, counter: UInt64) {
        self.milliseconds = milliseconds
        self.counter = counter
    }

    /// Parses `<ms>-<n>` or `<ms>` (counter 0).
    package init?(_ position: StreamPosition) {
        if let (milliseconds, counter) = position.streamID {
            self.init(milliseconds: milliseconds, counter: counter)
            return
        }
        let text = position.rawValue
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard let milliseconds = parts.first.flatMap({ Int64($0) }), milliseconds >= 0 else { return nil }
        if parts.count == 2 {
            guard let counter = UInt64(parts[1]) else { return nil }
            self.init(milliseconds: milliseconds, counter: counter)
        } else {
            self.init(milliseconds: milliseconds, counter: 0)
        }
    }

    /// The id after `self` for an entry stored at `milliseconds`: never smaller than `self`.
    package func successor(at milliseconds: Int64) -> EntryID {
        milliseconds > self.milliseconds
            ? EntryID(milliseconds: milliseconds, counter: 0)
            : EntryID(milliseconds: self.milliseconds, counter: counter + 1)
    }

    package var position: StreamPosition { StreamPosition(milliseconds: milliseconds, counter: counter) }

    package var description: String { "\(milliseconds)-\(counter)" }

    package static func < (lhs: EntryID, rhs: EntryID) -> Bool {
        (lhs.milliseconds, lhs.counter) < (rhs.milliseconds, rhs.counter)
    }
}

/// An array that drops elements from its front cheaply: a stream, a dedup expiry queue.
package struct EntryLog<Element> {
    private var storage: [Element] = []

    package init() {}
    private var head = 0

    package var count: Int { storage.count - head }
    package var isEmpty: Bool { count == 0 }
    package var first: Element? { head < storage.count ? storage[head] : nil }
    package var last: Element? { head < storage.count ? storage.last : nil }

    /// The elements from the `offset`-th on, at most `limit` of them.
    package func slice(from offset: Int, limit: Int) -> ArraySlice<Element> {
        let start = head + offset
        return storage[start..<Swift.min(storage.count, start + Swift.max(0, limit))]
    }

    package subscript(offset: Int) -> Element { storage[head + offset] }

    package mutating func append(_ element: Element) {
        storage.append(element)
    }

    @discardableResult
    package mutating func removeFirst() -> Element {
        let element = storage[head]
        head += 1
        if head >= 1024 && head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return element
    }

    /// The offset of the first element for which `isBefore` is false, `isBefore` being true for
    /// a prefix of the log (binary search).
    package func partitioningIndex(where isBefore: (Element) -> Bool) -> Int {
        var low = head
        var high = storage.count
        while low < high {
            let middle = low + (high - low) / 2
            if isBefore(storage[middle]) { low = middle + 1 } else { high = middle }
        }
        return low - head
    }
}

extension EntryLog: Sendable where Element: Sendable {}
