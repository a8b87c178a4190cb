/// Reads and writes for callback code: each returns a `Future` that
/// completes on the stream's loop, with the same semantics as the `async`
/// form of the same name (a read returns what is available, 0 or empty at
/// end of stream; a write writes the whole buffer).
///
/// A future has no task to cancel it. To stop one, give it a deadline (it
/// is then stopped as a cancelled task's transfer is: a read that timed out
/// read nothing, a write that timed out part-way fails with
/// `PartialWriteError`, reason `.timedOut`), or `close()` the stream (what
/// is in flight ends with `.badFileDescriptor`, or with what it had done).
///
/// ```swift
/// stream.read(upTo: 4096, timeout: .seconds(5)).whenComplete { result in … }
/// ```
extension ByteStream {
    // MARK: Reading

    /// `read(into:count:)` for callback code: what is available, up to
    /// `count` bytes, into the start of `buffer`; 0 at end of stream.
    public func read(into buffer: FileBuffer, count: Int? = nil) -> Future<Int> {
        futureTransfer(.read, buffer, count ?? buffer.capacity)
    }

    /// `read(into:count:deadline:)` for callback code: fails with
    /// `RingLoopError.timedOut(operation: "read")` if no byte arrived by
    /// `deadline` (nothing was read; the stream stays usable).
    public func read(into buffer: FileBuffer, count: Int? = nil, deadline: Deadline) -> Future<Int> {
        futureTransfer(.read, buffer, count ?? buffer.capacity, deadline: deadline)
    }

    /// `read(into:count:deadline:)` for callback code, waiting at most `timeout`.
    public func read(into buffer: FileBuffer, count: Int? = nil, timeout: Duration) -> Future<Int> {
        read(into: buffer, count: count, deadline: .now() + timeout)
    }

    /// `read(upTo:)` for callback code: what is available, at most
    /// `maxCount` bytes; empty at end of stream.
    public func read(upTo maxCount: Int = 64 << 10) -> Future<[UInt8]> {
        read(upTo: maxCount, deadline: .distantFuture)
    }

    /// `read(upTo:deadline:)` for callback code (`.timedOut` if no byte
    /// arrived; nothing was read).
    public func read(upTo maxCount: Int = 64 << 10, deadline: Deadline) -> Future<[UInt8]> {
        let buffer = FileBuffer(capacity: max(maxCount, 1))
        return futureTransfer(.read, buffer, max(maxCount, 0), deadline: deadline).map { buffer.bytes(0..<$0) }
    }

    /// `read(upTo:deadline:)` for callback code, waiting at most `timeout`.
    public func read(upTo maxCount: Int = 64 << 10, timeout: Duration) -> Future<[UInt8]> {
        read(upTo: maxCount, deadline: .now() + timeout)
    }

    // MARK: Writing

    /// `write(_:count:)` for callback code: succeeds once all `count` bytes
    /// (default: the buffer's capacity) are written.
    @discardableResult
    public func write(_ buffer: FileBuffer, count: Int? = nil) -> Future<Void> {
        futureTransfer(.write, buffer, count ?? buffer.capacity).map { _ in }
    }

    /// `write(_:count:deadline:)` for callback code: fails with
    /// `RingLoopError.timedOut(operation: "write")` if nothing was written by
    /// `deadline`, or `PartialWriteError` (reason `.timedOut`) if part was.
    @discardableResult
    public func write(_ buffer: FileBuffer, count: Int? = nil, deadline: Deadline) -> Future<Void> {
        futureTransfer(.write, buffer, count ?? buffer.capacity, deadline: deadline).map { _ in }
    }

    /// `write(_:count:deadline:)` for callback code, taking at most `timeout`.
    @discardableResult
    public func write(_ buffer: FileBuffer, count: Int? = nil, timeout: Duration) -> Future<Void> {
        write(buffer, count: count, deadline: .now() + timeout)
    }

    /// `write(_:)` for bytes, for callback code (copied once into a buffer
    /// the kernel may keep using until its final completion).
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Future<Void> {
        write(bytes, deadline: .distantFuture)
    }

    /// `write(_:deadline:)` for bytes, for callback code.
    @discardableResult
    public func write(_ bytes: [UInt8], deadline: Deadline) -> Future<Void> {
        guard !bytes.isEmpty else { return eventLoop.makeSucceededFuture(()) }
        return write(FileBuffer(bytes), deadline: deadline)
    }

    /// `write(_:deadline:)` for bytes, for callback code, taking at most `timeout`.
    @discardableResult
    public func write(_ bytes: [UInt8], timeout: Duration) -> Future<Void> {
        write(bytes, deadline: .now() + timeout)
    }
}
