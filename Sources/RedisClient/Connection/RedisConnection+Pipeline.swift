import NIOCore
import RESP

extension RedisConnection {
    /// Sends several commands with one write and one flush, and returns their typed replies.
    ///
    /// Every reply is awaited before the first error, if any, is thrown.
    /// - Throws: the first command's ``RedisError``, or a connection failure.
    public nonisolated func pipeline<each Command: RedisCommand>(
        _ commands: repeat each Command
    ) async throws -> (repeat (each Command).Response) {
        var encoder = self.makeEncoder()
        var count = 0
        var blocking: Duration?
        for command in repeat each commands {
            command.encode(into: &encoder)
            count += 1
            blocking = Self.longer(blocking, command.blockingTimeout)
        }
        let start = NIODeadline.now()
        do {
            let values = try await self.send(encoder.finish(), count: count, deadline: self.deadline(blocking: blocking))
            var index = 0
            func next<C: RedisCommand>(_ command: C) throws -> C.Response {
                defer { index += 1 }
                return try command.checkedResponse(values[index])
            }
            let responses = (repeat try next(each commands))
            self.metrics.recordCommands(count, since: start)
            return responses
        } catch {
            self.metrics.recordCommandFailure(error, since: start)
            throw error
        }
    }

    /// Sends commands of one type with one write and one flush; each reply is a `Result`, so one
    /// failed command does not hide the others.
    ///
    /// - Throws: ``RedisError`` only when the connection fails.
    // Specialized for XADD, the command pipelined most (a stream's writes): the generic body calls
    // each command's encoding and reading through witness tables and copies each reply and result
    // through value witnesses.
    @_specialize(exported: false, where Command == XADD)
    public func pipeline<Command: RedisCommand>(_ commands: [Command]) async throws -> [Result<Command.Response, RedisError>] {
        var encoder = RESPCommandEncoder(allocator: self.channel.allocator, capacity: 64 * max(commands.count, 1))
        var blocking: Duration?
        // Through the array's storage: in the generic body (every command type but XADD), iterating
        // or subscripting the array would copy each command out of it, twice per command.
        commands.withUnsafeBufferPointer { commands in
            for index in commands.indices {
                commands[index].encode(into: &encoder)
                blocking = Self.longer(blocking, commands[index].blockingTimeout)
            }
        }
        let start = NIODeadline.now()
        do {
            let values = try await self.send(encoder.finish(), count: commands.count, deadline: self.deadline(blocking: blocking))
            self.metrics.recordCommands(commands.count, since: start)
            return commands.withUnsafeBufferPointer { commands in
                values.withUnsafeBufferPointer { values in
                    [Result<Command.Response, RedisError>](unsafeUninitializedCapacity: commands.count) { results, initialized in
                        for index in commands.indices {
                            do throws(RedisError) {
                                (results.baseAddress! + index).initialize(to: .success(try commands[index].typedCheckedResponse(values[index])))
                            } catch {
                                (results.baseAddress! + index).initialize(to: .failure(error))
                            }
                            initialized = index + 1
                        }
                    }
                }
            }
        } catch {
            self.metrics.recordCommandFailure(error, since: start)
            throw error
        }
    }

    /// Runs commands atomically with `MULTI`/`EXEC`, sent as one pipeline.
    ///
    /// Each reply is a `Result`: inside a transaction one command may fail (`WRONGTYPE`) while the
    /// others take effect.
    /// - Throws: ``RedisError`` with ``RedisError/Code/transactionAborted`` when `EXEC` returns null
    ///   or `EXECABORT`, or a connection failure.
    public nonisolated func transaction<each Command: RedisCommand>(
        _ commands: repeat each Command
    ) async throws -> (repeat Result<(each Command).Response, RedisError>) {
        var encoder = self.makeEncoder()
        encoder.encode("MULTI")
        var count = 0
        for command in repeat each commands {
            command.encode(into: &encoder)
            count += 1
        }
        encoder.encode("EXEC")
        let start = NIODeadline.now()
        let values: [RESPValue]
        do {
            values = try await self.send(encoder.finish(), count: count + 2, deadline: self.deadline(blocking: nil))
        } catch {
            self.metrics.recordCommandFailure(error, since: start)
            throw error
        }
        self.metrics.recordCommands(count + 2, since: start)
        let exec = values[values.count - 1]
        if let message = exec.errorMessage {
            throw RedisError(.transactionAborted, serverMessage: message)
        }
        if let message = values.first?.errorMessage {
            throw RedisError(.serverError, serverMessage: message)
        }
        guard let results = exec.elements, results.count == count else {
            throw RedisError(.transactionAborted)
        }
        var index = 0
        func next<C: RedisCommand>(_ command: C) -> Result<C.Response, RedisError> {
            defer { index += 1 }
            return Result { () throws(RedisError) -> C.Response in try command.typedCheckedResponse(results[index]) }
        }
        return (repeat next(each commands))
    }

    private static func longer(_ a: Duration?, _ b: Duration?) -> Duration? {
        guard let a else { return b }
        guard let b else { return a }
        return max(a, b)
    }
}
