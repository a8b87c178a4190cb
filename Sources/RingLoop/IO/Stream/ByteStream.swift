#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// A stream descriptor (a pipe end, FIFO, tty, character device) whose reads
/// and writes run as io_uring operations on one event loop.
///
/// Unlike `File`, a stream has no offsets: a read returns what is available
/// (at least one byte) as soon as there is some, and 0 only at end of stream;
/// a write writes the whole buffer (short writes are resubmitted).
///
/// ```swift
/// let (readEnd, writeEnd) = try ByteStream.makePipe(on: loop)
/// Task { try await writeEnd.write(Array("one\ntwo\n".utf8)); writeEnd.close() }
/// for try await line in readEnd.lines { print(line) }     // "one", "two"
/// readEnd.close()
/// ```
///
/// **Errors** are `IOError("read"/"write", errno)`: `.brokenPipe` when writing
/// to a pipe nobody reads (the loop threads block `SIGPIPE`, so the process is
/// not killed), `.badFileDescriptor` once closed. End of stream is not an
/// error: `read` returns 0, the sequences end.
///
/// **Cancellation.** Cancelling the task cancels the kernel's operation and
/// waits for its completion: a read that got bytes meanwhile returns them; a
/// transfer that did nothing throws `CancellationError`; a write that wrote
/// part of its buffer throws `PartialWriteError` saying how much. Buffers stay
/// alive until the kernel lets go of them.
///
/// **Blocking descriptors.** On a blocking pipe (the default here: `makePipe`
/// does not set `O_NONBLOCK`, so a child sees ordinary blocking stdio) the
/// kernel attempts the read without blocking and, if nothing is there, waits
/// by polling inside io_uring; no kernel worker thread is tied up (seen on
/// Linux 6.18: four pending pipe reads, no `iou-wrk` thread). A descriptor with `O_NONBLOCK` answers
/// `EAGAIN`, which `ByteStream` turns into a poll and a retry. Descriptors
/// whose driver cannot read without blocking are served by io_uring's worker
/// threads instead (one per pending read).
// Safe to share: `eventLoop` and `descriptor` are immutable; `isClosed` and
// `inFlight` are touched only on the loop thread, or in deinit, when no other
// reference exists (in-flight transfers hold references).
public final class ByteStream: @unchecked Sendable {
    /// The loop that runs this stream's operations.
    public let eventLoop: EventLoop
    /// The descriptor (owned by this stream: don't close it yourself).
    public let descriptor: FileDescriptor
    private var isClosed = false
    private var inFlight: [ObjectIdentifier: StreamTransfer] = [:]

    /// Takes ownership of an open stream descriptor: `close()`, or dropping
    /// the last reference, closes it. Its flags are left alone.
    public init(adopting descriptor: FileDescriptor, on loop: EventLoop) {
        self.descriptor = descriptor
        self.eventLoop = loop
    }

    deinit {
        if !isClosed { _ = Glibc.close(descriptor.rawValue) }
    }

    /// Makes a pipe, both ends close-on-exec and blocking.
    ///
    /// - Returns: the end to read from and the end to write to.
    /// - Throws: `IOError("pipe2", …)` (`.tooManyOpenFiles`…).
    public static func makePipe(on loop: EventLoop) throws -> (readEnd: ByteStream, writeEnd: ByteStream) {
        let (r, w) = try makeRawPipe()
        return (ByteStream(adopting: FileDescriptor(rawValue: r), on: loop),
                ByteStream(adopting: FileDescriptor(rawValue: w), on: loop))
    }

    /// A close-on-exec pipe as two raw descriptors (read end, write end).
    static func makeRawPipe() throws(IOError) -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        guard ProcessCalls.pipe(&fds) == 0 else { throw IOError("pipe2", Errno(rawValue: errno)) }
        return (fds[0], fds[1])
    }

    // MARK: Reading

    /// Reads what is available, up to `count` bytes (default: the buffer's
    /// capacity), into the start of `buffer`, waiting until at least one byte
    /// is there or the stream ends.
    ///
    /// - Returns: bytes read; 0 means end of stream (the writer closed).
    /// - Throws: `IOError("read", …)`; `CancellationError` if the task was
    ///   cancelled before any byte arrived.
    public func read(into buffer: FileBuffer, count: Int? = nil) async throws -> Int {
        try await perform(.read, buffer, count ?? buffer.capacity)
    }

    /// Reads what is available, at most `maxCount` bytes; empty at end of stream.
    public func read(upTo maxCount: Int = 64 << 10) async throws -> [UInt8] {
        let buffer = FileBuffer(capacity: max(maxCount, 1))
        let n = try await read(into: buffer, count: max(maxCount, 0))
        return buffer.bytes(0..<n)
    }

    /// `read(into:count:)`, waiting until `deadline` at most.
    ///
    /// - Throws: `RingLoopError.timedOut(operation: "read")` if no byte
    ///   arrived in time (nothing was read; the stream stays usable).
    public func read(into buffer: FileBuffer, count: Int? = nil, deadline: Deadline) async throws -> Int {
        try await perform(.read, buffer, count ?? buffer.capacity, deadline: deadline)
    }

    /// `read(into:count:)`, waiting at most `timeout`.
    public func read(into buffer: FileBuffer, count: Int? = nil, timeout: Duration) async throws -> Int {
        try await read(into: buffer, count: count, deadline: .now() + timeout)
    }

    /// `read(upTo:)`, waiting until `deadline` at most (`.timedOut` if no
    /// byte arrived; nothing was read).
    public func read(upTo maxCount: Int = 64 << 10, deadline: Deadline) async throws -> [UInt8] {
        let buffer = FileBuffer(capacity: max(maxCount, 1))
        let n = try await read(into: buffer, count: max(maxCount, 0), deadline: deadline)
        return buffer.bytes(0..<n)
    }

    /// `read(upTo:)`, waiting at most `timeout`.
    public func read(upTo maxCount: Int = 64 << 10, timeout: Duration) async throws -> [UInt8] {
        try await read(upTo: maxCount, deadline: .now() + timeout)
    }

    // MARK: Writing

    /// Writes `count` bytes (default: the buffer's capacity) from the start
    /// of `buffer`, resubmitting short writes until all are written.
    ///
    /// - Throws: `IOError("write", …)` (`.brokenPipe`: no reader);
    ///   `CancellationError` if nothing was written; `PartialWriteError` if
    ///   the task was cancelled (or the stream closed) part-way.
    public func write(_ buffer: FileBuffer, count: Int? = nil) async throws {
        _ = try await perform(.write, buffer, count ?? buffer.capacity)
    }

    /// Writes `bytes` (copied once into a buffer the kernel may use after a
    /// cancelled caller has moved on).
    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        try await write(FileBuffer(bytes))
    }

    /// `write(_:count:)`, finishing by `deadline` at most.
    ///
    /// - Throws: `RingLoopError.timedOut(operation: "write")` if nothing was
    ///   written in time; `PartialWriteError` (reason `.timedOut`) if part was.
    public func write(_ buffer: FileBuffer, count: Int? = nil, deadline: Deadline) async throws {
        _ = try await perform(.write, buffer, count ?? buffer.capacity, deadline: deadline)
    }

    /// `write(_:count:)`, taking at most `timeout`.
    public func write(_ buffer: FileBuffer, count: Int? = nil, timeout: Duration) async throws {
        try await write(buffer, count: count, deadline: .now() + timeout)
    }

    /// `write(_:)` for bytes, finishing by `deadline` at most.
    public func write(_ bytes: [UInt8], deadline: Deadline) async throws {
        guard !bytes.isEmpty else { return }
        try await write(FileBuffer(bytes), deadline: deadline)
    }

    /// `write(_:)` for bytes, taking at most `timeout`.
    public func write(_ bytes: [UInt8], timeout: Duration) async throws {
        try await write(bytes, deadline: .now() + timeout)
    }

    // MARK: Closing

    /// Closes the descriptor. Transfers in flight are cancelled and end with
    /// `IOError(op, .badFileDescriptor)` (or what they had done); the
    /// descriptor is closed once the kernel has let go of them, so its number
    /// is never reused under them. Later operations fail with
    /// `.badFileDescriptor`. Closing twice does nothing.
    public func close() {
        if eventLoop.inEventLoop {
            closeOnLoop()
        } else {
            eventLoop.execute { self.closeOnLoop() }
        }
    }

    private func closeOnLoop() {
        guard !isClosed else { return }
        isClosed = true
        if inFlight.isEmpty {
            _ = Glibc.close(descriptor.rawValue)
        } else {
            for transfer in inFlight.values { transfer.stop(IOError(transfer.operation, .badFileDescriptor)) }
        }
    }

    /// Called by a transfer when it has answered (its final CQE arrived).
    func transferEnded(_ transfer: StreamTransfer) {
        inFlight[ObjectIdentifier(transfer)] = nil
        if isClosed, inFlight.isEmpty { _ = Glibc.close(descriptor.rawValue) }
    }

    // MARK: Machinery

    private func perform(
        _ direction: StreamTransfer.Direction, _ buffer: FileBuffer, _ count: Int,
        deadline: Deadline = .distantFuture
    ) async throws -> Int {
        let name = direction == .read ? "read" : "write"
        guard count >= 0, count <= buffer.capacity else { throw IOError(name, .invalidArgument) }
        try Task.checkCancellation()
        return try await eventLoop.awaitOperation(deadline: deadline, operation: name, transferStarter(direction, buffer, count))
    }

    /// `perform` for callback code: the same transfer, answered through a
    /// future; only `deadline` (or `close()`) stops it.
    func futureTransfer(
        _ direction: StreamTransfer.Direction, _ buffer: FileBuffer, _ count: Int,
        deadline: Deadline = .distantFuture
    ) -> Future<Int> {
        let name = direction == .read ? "read" : "write"
        guard count >= 0, count <= buffer.capacity else {
            return eventLoop.makeFailedFuture(IOError(name, .invalidArgument))
        }
        return eventLoop.futureOperation(deadline: deadline, operation: name, transferStarter(direction, buffer, count))
    }

    /// Starts one transfer for a waiter (loop thread). Cancelling (or the
    /// deadline) does not answer at once: the transfer answers at its final
    /// CQE, with what it moved.
    private func transferStarter(
        _ direction: StreamTransfer.Direction, _ buffer: FileBuffer, _ count: Int
    ) -> @Sendable (AsyncWaiter<Int>) -> Void {
        let name = direction == .read ? "read" : "write"
        return { waiter in
            guard !self.isClosed else {
                waiter.resume(.failure(IOError(name, .badFileDescriptor)))
                return
            }
            guard count > 0 else {
                waiter.resume(.success(0))
                return
            }
            let transfer = StreamTransfer(stream: self, direction: direction, buffer: buffer, count: count) {
                waiter.resume($0)
            }
            self.inFlight[ObjectIdentifier(transfer)] = transfer
            waiter.answersAtCompletion = true
            waiter.onCancel = { transfer.stop(waiter.stopReason) }
            transfer.start()
        }
    }
}
