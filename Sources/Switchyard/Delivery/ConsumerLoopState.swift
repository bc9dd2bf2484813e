/// The decisions of one live consumer of a group, free of I/O: when to look for channels that
/// appeared, where the group starts on a channel it meets, where each channel's claiming goes on,
/// how long to wait after a failure, and when to stop.
///
/// The consumer's read and claim tasks feed it what happened and carry out the actions it returns.
struct ConsumerLoopState {
    enum ReadAction: Equatable {
        /// Read the group; when `discover`, look for channels matching the patterns first.
        case read(discover: Bool)
        /// The task is cancelled: stop reading.
        case stop
    }

    enum WaitAction: Equatable {
        /// Wait this long, then go on.
        case wait(Duration)
        /// The task is cancelled: stop.
        case stop
    }

    /// A channel to create the group on, and where the group starts there.
    struct GroupCreation: Equatable {
        let channel: ChannelName
        let start: GroupStart
    }

    /// How often a busy consumer looks for new channels matching its patterns; an idle one looks
    /// after every empty read. Looking can cost a keyspace scan, so not after every batch.
    static let busyDiscoveryIntervalMilliseconds: Int64 = 500

    let options: ConsumerOptions
    /// The channels followed, in name order.
    private(set) var channels: [ChannelName] = []
    /// Whether a discovery has run: the group's ``ConsumerOptions/start`` applies to the channels
    /// of the first one only.
    private var hasDiscovered = false
    /// When the read that asked for the running discovery started, in Unix milliseconds.
    private var discoveryAskedAt: Int64?
    /// When the last discovery the read loop asked for started, in Unix milliseconds.
    private var discoveredAt: Int64?
    /// Whether the last read returned nothing.
    private var wasIdle = true
    /// Where each channel's next claim goes on.
    private var cursors: [ChannelName: StreamPosition] = [:]

    /// Creates the state of a consumer that reads, retries and claims as `options` say.
    init(options: ConsumerOptions) {
        self.options = options
    }

    // MARK: Discovery

    /// The channels among `found` the group is not on yet, in name order, with where it starts.
    func groupsToCreate(found: Set<ChannelName>) -> [GroupCreation] {
        let start = hasDiscovered ? GroupStart.beginning : options.start
        return found.subtracting(channels).sorted().map { GroupCreation(channel: $0, start: start) }
    }

    /// The group exists on every channel of `found`: they are followed from now on.
    /// - Returns: Every channel followed.
    mutating func discovered(_ found: Set<ChannelName>) -> [ChannelName] {
        channels = found.union(channels).sorted()
        hasDiscovered = true
        if let discoveryAskedAt {
            discoveredAt = discoveryAskedAt
            self.discoveryAskedAt = nil
        }
        return channels
    }

    // MARK: Reading

    /// The read loop is about to read, at `now` (Unix milliseconds).
    mutating func nextRead(now: Int64, isCancelled: Bool) -> ReadAction {
        guard !isCancelled else { return .stop }
        let discover = wasIdle || discoveredAt.map { now - $0 >= Self.busyDiscoveryIntervalMilliseconds } ?? true
        if discover { discoveryAskedAt = now }
        return .read(discover: discover)
    }

    /// A read returned `deliveries` entries.
    mutating func readSucceeded(deliveries: Int) {
        wasIdle = deliveries == 0
    }

    /// A discovery or a read failed: the loop waits a read's block time before trying again.
    func readFailed(isCancelled: Bool) -> WaitAction {
        isCancelled ? .stop : .wait(options.blockTimeout)
    }

    // MARK: Claiming

    /// The claim loop is about to wait for its next pass over the channels.
    func nextClaimPass(isCancelled: Bool) -> WaitAction {
        isCancelled ? .stop : .wait(options.claimInterval)
    }

    /// Where the next claim on `channel` starts.
    func claimCursor(for channel: ChannelName) -> StreamPosition {
        cursors[channel] ?? .start
    }

    /// A claim on `channel` returned `cursor`, where the next one goes on.
    mutating func claimed(on channel: ChannelName, cursor: StreamPosition) {
        cursors[channel] = cursor
    }
}
