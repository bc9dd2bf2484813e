/// A connection the pool can hold: all the pool asks of it is whether it is still open.
protocol RedisPoolableConnection: Sendable {
    /// Whether the connection has closed (its server went away, or it was closed).
    var isClosed: Bool { get }
}

extension RedisConnection: RedisPoolableConnection {}

/// The bookkeeping of ``RedisConnectionPool``, free of I/O: the idle connections, how many are
/// open or being opened, and the callers waiting in line.
///
/// The pool feeds it events under its lock and carries out the actions it returns: hands a
/// connection (or the right to open one) to a caller, resumes or fails a waiter, closes a
/// connection. Which caller gets a connection is decided here and nowhere else.
struct RedisConnectionPoolStateMachine<Connection: RedisPoolableConnection, Waiter: Sendable> {
    /// What a caller gets from the pool.
    enum Grant: Sendable {
        /// An open connection to use.
        case connection(Connection)
        /// A slot below the bound: the caller opens a connection, and reports a failure with
        /// ``connectionGone()``.
        case open
    }

    enum LeaseAction: Sendable {
        case grant(Grant)
        /// Nothing free and the pool at its bound: the caller waits in line.
        case wait
        case fail(RedisError)
    }

    enum ReturnAction: Sendable {
        /// The connection was parked as idle, or its slot freed: nothing to do.
        case none
        /// Resume the waiter with the grant.
        case grant(Waiter, Grant)
        /// Close the connection: the pool is shut down.
        case close(Connection)
    }

    struct ShutdownAction: Sendable {
        /// Fail each with ``RedisError/Code/clientShutdown``.
        var waiters: [Waiter]
        /// Close each.
        var idle: [Connection]
    }

    let maximumConnections: Int
    private(set) var idle: [Connection] = []
    /// Connections open or being opened, idle or leased.
    private(set) var open = 0
    private var waiters: [(id: Int, waiter: Waiter)] = []
    private var lastWaiterID = 0
    private(set) var isShutdown = false

    init(maximumConnections: Int) {
        self.maximumConnections = maximumConnections
    }

    var waiting: Int { self.waiters.count }

    /// A new id for a caller about to wait, for ``enqueue(_:_:)`` and ``removeWaiter(_:)``.
    mutating func nextWaiterID() -> Int {
        self.lastWaiterID += 1
        return self.lastWaiterID
    }

    /// A caller asks for a connection: an idle one that is still open, else a slot to open one
    /// when below the bound, else it must wait.
    ///
    /// - Parameter isPreferred: The connections the caller would rather have (those on its own
    ///   event loop). Without a preference the most recently returned idle connection is taken;
    ///   with one, a preferred idle connection, else a slot to open one (which the caller opens
    ///   where it prefers) while below the bound, else any idle connection.
    mutating func lease(preferring isPreferred: ((Connection) -> Bool)? = nil) -> LeaseAction {
        guard !self.isShutdown else { return .fail(RedisError(.clientShutdown)) }
        if let isPreferred {
            if let index = self.idle.lastIndex(where: { !$0.isClosed && isPreferred($0) }) {
                return .grant(.connection(self.idle.remove(at: index)))
            }
            if self.open < self.maximumConnections {
                self.open += 1
                return .grant(.open)
            }
        }
        while let connection = self.idle.popLast() {
            if !connection.isClosed { return .grant(.connection(connection)) }
            self.open -= 1
        }
        if self.open < self.maximumConnections {
            self.open += 1
            return .grant(.open)
        }
        return .wait
    }

    /// A caller that was told to wait gets in line, unless something was freed in the meantime.
    ///
    /// - Parameter makeWaiter: Makes the waiter, called only when it gets in line.
    /// - Returns: ``LeaseAction/wait`` when the waiter is now in line; otherwise the caller acts
    ///   on the grant or failure itself.
    mutating func enqueue(_ id: Int, _ makeWaiter: () -> Waiter) -> LeaseAction {
        let action = self.lease()
        if case .wait = action { self.waiters.append((id, makeWaiter())) }
        return action
    }

    /// A waiter timed out or was cancelled: takes it out of line.
    ///
    /// - Returns: the waiter, to be failed; `nil` when it was served or failed already.
    mutating func removeWaiter(_ id: Int) -> Waiter? {
        guard let index = self.waiters.firstIndex(where: { $0.id == id }) else { return nil }
        return self.waiters.remove(at: index).waiter
    }

    /// A caller returns a connection: it goes to the first waiter, else to the idle list; a closed
    /// one frees its slot, and after shutdown it is closed.
    mutating func release(_ connection: Connection) -> ReturnAction {
        if connection.isClosed { return self.connectionGone() }
        if self.isShutdown {
            self.open -= 1
            return .close(connection)
        }
        if !self.waiters.isEmpty {
            return .grant(self.waiters.removeFirst().waiter, .connection(connection))
        }
        self.idle.append(connection)
        return .none
    }

    /// A connection closed or failed to open: its slot goes to the first waiter, who opens a new one.
    mutating func connectionGone() -> ReturnAction {
        if !self.isShutdown, !self.waiters.isEmpty {
            return .grant(self.waiters.removeFirst().waiter, .open)
        }
        self.open -= 1
        return .none
    }

    /// Takes the idle connections for a health check; each comes back through ``release(_:)``.
    mutating func takeIdle() -> [Connection] {
        defer { self.idle.removeAll() }
        return self.idle
    }

    /// Refuses new callers, and hands back the waiters to fail and the idle connections to close;
    /// leased connections are closed when they are returned.
    mutating func shutdown() -> ShutdownAction {
        self.isShutdown = true
        let action = ShutdownAction(waiters: self.waiters.map(\.waiter), idle: self.idle)
        self.open -= self.idle.count
        self.idle.removeAll()
        self.waiters.removeAll()
        return action
    }
}
