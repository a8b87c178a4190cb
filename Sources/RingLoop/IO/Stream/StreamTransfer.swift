#if canImport(Glibc)
import Glibc
#endif

/// One read or write on a stream descriptor, at its current position.
///
/// A read finishes with the first non-empty result (what was available) or 0
/// at end of stream; a write resubmits short writes until the whole range is
/// written. `-EAGAIN` (a descriptor someone made `O_NONBLOCK`) becomes a poll
/// for readiness and a retry. Cancelling does not answer at once: the kernel's
/// operation is cancelled and the caller is answered at its final CQE, so
/// bytes that were transferred meanwhile are reported, never lost. The
/// operation table keeps the transfer, and with it the buffer, until then.
///
/// Loop thread only.
final class StreamTransfer: CompletionHandler {
    enum Direction { case read, write }

    private static let transferContext: UInt64 = 0
    private static let pollContext: UInt64 = 1

    private let stream: ByteStream
    private let direction: Direction
    private let buffer: FileBuffer
    private let count: Int
    private(set) var transferred = 0
    private var current: OperationID?
    private var polling = false
    /// Why the caller stopped waiting (task cancellation, or the stream
    /// closing); the answer comes at the final CQE.
    private var stopReason: (any Error)?
    private var completion: ((Result<Int, any Error>) -> Void)?

    var operation: String { direction == .read ? "read" : "write" }

    init(stream: ByteStream, direction: Direction, buffer: FileBuffer, count: Int,
         completion: @escaping (Result<Int, any Error>) -> Void) {
        self.stream = stream
        self.direction = direction
        self.buffer = buffer
        self.count = count
        self.completion = completion
    }

    func start() { submit() }

    private func submit() {
        let fd = stream.descriptor.rawValue
        do {
            if polling {
                let events = UInt32(direction == .read ? POLLIN : POLLOUT)
                current = try stream.eventLoop.submitOperation(
                    .poll(fd: fd, events: events, multishot: false), handler: self, context: Self.pollContext)
            } else {
                // Offset -1: the descriptor's current position (a stream has no other).
                let left = UInt32(min(count - transferred, 1 << 30))
                let start = buffer.address + transferred
                let operation: IOOperation = direction == .read
                    ? .read(fd: fd, buffer: start, count: left, offset: -1)
                    : .write(fd: fd, buffer: start, count: left, offset: -1)
                current = try stream.eventLoop.submitOperation(operation, handler: self, context: Self.transferContext)
            }
        } catch {
            finish(.failure(error))
        }
    }

    func completed(_ completion: Completion, context: UInt64) {
        current = nil
        if let reason = stopReason {
            if context == Self.transferContext, let n = completion.value { transferred += Int(n) }
            if transferred == 0 {
                finish(.failure(reason))
            } else if direction == .write, transferred < count {
                finish(.failure(PartialWriteError(written: transferred, requested: count, reason: reason)))
            } else {
                finish(.success(transferred))
            }
            return
        }
        switch completion.outcome {
        case .shutDown:
            finish(.failure(RingLoopError.shutDown))
        case .cancelled:
            // Only this transfer cancels its operations, and only after
            // setting `stopReason`; anything else is the kernel's doing.
            finish(.failure(IOError(operation, .canceled)))
        case .failure(.interrupted):
            submit()
        case .failure(.resourceTemporarilyUnavailable) where context == Self.transferContext:
            // An O_NONBLOCK descriptor with nothing to read or no room.
            polling = true
            submit()
        case let .failure(errno):
            finish(.failure(IOError(context == Self.pollContext ? "poll" : operation, errno)))
        case .success where context == Self.pollContext:
            // Ready (or in error, which the retried transfer will report).
            polling = false
            submit()
        case .success(0):
            // Reading: end of stream. Writing: no progress is possible.
            finish(direction == .read ? .success(0) : .failure(IOError(operation, .ioError)))
        case let .success(n):
            transferred += Int(n)
            if direction == .read || transferred >= count {
                finish(.success(transferred))
            } else {
                submit()
            }
        }
    }

    /// Stops waiting: cancels the kernel's operation; the caller is answered
    /// at its final CQE with `reason` if nothing was transferred.
    func stop(_ reason: any Error) {
        guard completion != nil, stopReason == nil else { return }
        stopReason = reason
        if let current {
            stream.eventLoop.cancelOperation(current)
        } else {
            finish(.failure(reason))
        }
    }

    private func finish(_ outcome: Result<Int, any Error>) {
        guard let completion else { return }
        self.completion = nil
        stream.transferEnded(self)
        completion(outcome)
    }
}

/// Connects one `StreamTransfer` to a suspended task. Unlike file requests,
/// cancelling the task does not resume it at once: the transfer answers at
/// its final CQE (with `CancellationError` only if nothing was transferred).
// Safe to share: `transfer` and `cancelled` are touched only on the loop
// thread (the start and the cancellation handler both hop there).
final class StreamTransferBridge: @unchecked Sendable {
    private var transfer: StreamTransfer?
    private var cancelled = false

    func begin(_ continuation: UnsafeContinuation<Int, any Error>, _ make: () -> StreamTransfer?) {
        guard !cancelled else {
            continuation.resume(throwing: CancellationError())
            return
        }
        transfer = make()
    }

    func cancel() {
        cancelled = true
        transfer?.stop(CancellationError())
    }
}

/// A write was stopped (its task cancelled, or its stream closed) after part
/// of the buffer had been written.
public struct PartialWriteError: Error, Sendable, CustomStringConvertible {
    /// Bytes written, from the start of the buffer.
    public var written: Int
    /// Bytes the write was asked for.
    public var requested: Int
    /// Why it stopped (`CancellationError`, or `IOError` for a closed stream).
    public var reason: any Error

    /// A write stopped after `written` of `requested` bytes, for `reason`.
    public init(written: Int, requested: Int, reason: any Error) {
        self.written = written
        self.requested = requested
        self.reason = reason
    }

    public var description: String { "write stopped after \(written) of \(requested) bytes: \(reason)" }
}
