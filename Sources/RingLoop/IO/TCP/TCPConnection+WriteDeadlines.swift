/// Writes bounded by a deadline, in `async` and `Future` form.
extension TCPConnection {
    /// `write(_:)`, finishing by `deadline` at most: Python's
    /// `await asyncio.wait_for(writer.drain(), timeout)` after a write, or
    /// `sendall` on a socket with `settimeout`.
    ///
    /// The deadline stops the write as cancelling its task would (see the
    /// type's notes), but reports `.timedOut`: a write the kernel took none
    /// of throws `RingLoopError.timedOut(operation: "write")` and the
    /// connection stays usable (nothing of it will be sent); one the kernel
    /// took part of throws `PartialWriteError` with the count and reason
    /// `.timedOut`, and the output breaks (later writes fail with
    /// `RingLoopError.writeCancelledMidway`), since the byte stream has a hole.
    /// A write the kernel took whole before the deadline succeeds.
    /// - Throws: `RingLoopError.timedOut`, `PartialWriteError`, or what
    ///   `write(_:)` throws.
    public func write(_ bytes: [UInt8], deadline: Deadline) async throws {
        try await eventLoop.awaitOperation(deadline: deadline, operation: "write") { (waiter: AsyncWaiter<Void>) in
            self.enqueue(.bytes(bytes), count: bytes.count, completion: .waiter(waiter))
        }
    }

    /// `write(_:)`, taking at most `timeout`; see `write(_:deadline:)`.
    public func write(_ bytes: [UInt8], timeout: Duration) async throws {
        try await write(bytes, deadline: .now() + timeout)
    }

    /// `write(contentsOf:)`, finishing by `deadline` at most; timing out is
    /// reported as by `write(_:deadline:)` (a `PartialWriteError` counts the
    /// bytes of all the buffers, in order).
    public func write(contentsOf chunks: [[UInt8]], deadline: Deadline) async throws {
        try await eventLoop.awaitOperation(deadline: deadline, operation: "write") { (waiter: AsyncWaiter<Void>) in
            self.enqueue(chunks, completion: .waiter(waiter))
        }
    }

    /// `write(contentsOf:)`, taking at most `timeout`; see `write(contentsOf:deadline:)`.
    public func write(contentsOf chunks: [[UInt8]], timeout: Duration) async throws {
        try await write(contentsOf: chunks, deadline: .now() + timeout)
    }

    /// `write(_:deadline:)` for callback code: Python's `sendall` on a socket
    /// with `settimeout`, for a `Future`. Safe from any thread.
    ///
    /// The deadline stops the write exactly as it stops the async form: the
    /// future fails with `RingLoopError.timedOut(operation: "write")` if the
    /// kernel took none of the bytes (none will be sent; the connection stays
    /// usable), or with `PartialWriteError` (reason `.timedOut`) if it took
    /// part of them (the output then breaks). A write the kernel took whole
    /// before the deadline succeeds.
    @discardableResult
    public func write(_ bytes: [UInt8], deadline: Deadline) -> Future<Void> {
        eventLoop.futureOperation(deadline: deadline, operation: "write") { (waiter: AsyncWaiter<Void>) in
            self.enqueue(.bytes(bytes), count: bytes.count, completion: .waiter(waiter))
        }
    }

    /// `write(_:deadline:)` for callback code, taking at most `timeout`.
    @discardableResult
    public func write(_ bytes: [UInt8], timeout: Duration) -> Future<Void> {
        write(bytes, deadline: .now() + timeout)
    }

    /// `write(contentsOf:deadline:)` for callback code; timing out is
    /// reported as by `write(_:deadline:) -> Future<Void>`.
    @discardableResult
    public func write(contentsOf chunks: [[UInt8]], deadline: Deadline) -> Future<Void> {
        eventLoop.futureOperation(deadline: deadline, operation: "write") { (waiter: AsyncWaiter<Void>) in
            self.enqueue(chunks, completion: .waiter(waiter))
        }
    }

    /// `write(contentsOf:deadline:)` for callback code, taking at most `timeout`.
    @discardableResult
    public func write(contentsOf chunks: [[UInt8]], timeout: Duration) -> Future<Void> {
        write(contentsOf: chunks, deadline: .now() + timeout)
    }
}
