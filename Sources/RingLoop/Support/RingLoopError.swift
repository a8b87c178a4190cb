import SystemPackage

/// Errors RingLoop itself raises (as opposed to the kernel's answers, which are
/// `IOError`s carrying an `Errno`).
public enum RingLoopError: Error, Sendable, Hashable, CustomStringConvertible {
    /// io_uring cannot be used in this process: the kernel lacks it, a seccomp
    /// profile (typical in containers) blocks it, or `kernel.io_uring_disabled`
    /// forbids it. `hint` says what to do about it.
    case ioUringUnavailable(errno: Errno, hint: String)
    /// The loop could not create the eventfd other threads wake it with
    /// (usually: the process is out of file descriptors).
    case wakeupUnavailable(errno: Errno)
    /// The epoll backend could not be set up either (`operation` is the call
    /// that failed: `epoll_create1`, `eventfd`…); nothing can run.
    case backendUnavailable(operation: String, errno: Errno)
    /// The event loop, group or pool has shut down (or is shutting down) and
    /// takes no new work of this kind.
    case shutDown
    /// A `Promise` was deallocated without ever being completed; its future
    /// failed with this error instead of leaving its waiters hanging.
    case promiseDropped
    /// A blocking wait was attempted on an event loop thread, which would stall
    /// every connection and timer on that loop (and may deadlock).
    case blockingWaitOnEventLoop(operation: String)
    /// A deadline passed before `operation` could complete.
    case timedOut(operation: String)
    /// `operation` met a closed queue, connection or socket.
    case closed(operation: String)
    /// A bounded queue (a `ThreadPool`'s) was full and the caller asked to
    /// fail rather than wait.
    case queueFull(operation: String, capacity: Int)
    /// An operation that delivers its result on an event loop was called off
    /// every loop thread without naming the loop (pass `on: loop`).
    case noEventLoop(operation: String)
    /// A blocking wait was attempted on one of a thread pool's own worker
    /// threads, which would wait for itself forever.
    case blockingWaitOnPoolWorker(operation: String)
    /// `operation` needs a lock that is held (`AsyncLock.unlock()` on a free
    /// lock, `AsyncCondition.wait()` without holding the condition's lock).
    case notLocked(operation: String)
    /// `operation` would be a second consumer of a stream that already has
    /// one: a second `read()` while one waits, `read()` on a connection with
    /// a handler, a second `accept` consumer on a listener.
    case alreadyConsumed(operation: String)
    /// A write was cancelled after the kernel had sent part of it: the
    /// stream now has a hole, so later writes on it fail with this instead of
    /// corrupting it. (The cancelled write itself throws `PartialWriteError`,
    /// which says how many of its bytes went out.)
    case writeCancelledMidway(operation: String)
    /// `address` is not a usable socket address; `reason` says why.
    case invalidAddress(_ address: String, reason: String)
    /// `operation` was called on something already closed by its owner
    /// (closing a file twice).
    case alreadyClosed(operation: String)
    /// `operation` released more than was acquired (a `BoundedAsyncSemaphore`
    /// above its limit, `AsyncQueue.taskDone()` with no unfinished item).
    case overReleased(operation: String)
    /// A setting in a configuration cannot be applied (`setting` names it;
    /// `reason` says why, with the kernel's answer when it refused).
    case invalidConfiguration(setting: String, reason: String)

    public var description: String {
        switch self {
        case let .ioUringUnavailable(errno, hint):
            return "io_uring is unavailable (io_uring_setup: \(errno)): \(hint)"
        case let .wakeupUnavailable(errno):
            return "RingLoop: the event loop could not create its wakeup eventfd: \(errno)"
        case let .backendUnavailable(operation, errno):
            return "RingLoop: the epoll backend could not be set up (\(operation): \(errno))"
        case .shutDown:
            return "RingLoop: the event loop (or group/pool) has shut down"
        case .promiseDropped:
            return "RingLoop: a Promise was deallocated without being completed"
        case let .blockingWaitOnEventLoop(operation):
            return "RingLoop: \(operation) would block an event loop thread; use `await` instead"
        case let .timedOut(operation):
            return "RingLoop: \(operation) timed out: the deadline passed first"
        case let .closed(operation):
            return "RingLoop: \(operation) failed: closed"
        case let .queueFull(operation, capacity):
            return "RingLoop: \(operation) refused: the queue is full (capacity \(capacity)); wait, or retry later"
        case let .noEventLoop(operation):
            return "RingLoop: \(operation) was called off any event loop; pass the loop to deliver the result on (`on: loop`)"
        case let .blockingWaitOnPoolWorker(operation):
            return "RingLoop: \(operation) was called on one of the pool's own worker threads and would wait for itself"
        case let .notLocked(operation):
            return "RingLoop: \(operation) requires the lock to be held"
        case let .alreadyConsumed(operation):
            return "RingLoop: \(operation) refused: the stream already has a reader (one reader at a time)"
        case let .writeCancelledMidway(operation):
            return "RingLoop: \(operation) refused: an earlier write was cancelled after part of it was sent, so the stream has a hole"
        case let .invalidAddress(address, reason):
            return "RingLoop: '\(address)' is not a usable socket address: \(reason)"
        case let .alreadyClosed(operation):
            return "RingLoop: \(operation) on something already closed"
        case let .overReleased(operation):
            return "RingLoop: \(operation) released more than was acquired"
        case let .invalidConfiguration(setting, reason):
            return "RingLoop: \(setting) cannot be applied: \(reason)"
        }
    }
}
