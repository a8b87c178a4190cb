import SystemPackage

/// Errors RingLoop itself raises (as opposed to the kernel's answers, which are
/// `IOError`s carrying an `Errno`).
public enum RingLoopError: Error, Sendable, Hashable, CustomStringConvertible {
    /// io_uring cannot be used in this process: the kernel lacks it, a seccomp
    /// profile (typical in containers) blocks it, or `kernel.io_uring_disabled`
    /// forbids it. `hint` says what to do about it.
    case ioUringUnavailable(errno: Errno, hint: String)
    /// The event loop, group or pool has shut down (or is shutting down) and
    /// takes no new work of this kind.
    case shutDown
    /// A `Promise` was deallocated without ever being completed; its future
    /// failed with this error instead of leaving its waiters hanging.
    case promiseDropped
    /// A blocking wait was attempted on an event loop thread, which would stall
    /// every connection and timer on that loop (and may deadlock).
    case blockingWaitOnEventLoop(operation: String)
    /// A deadline passed before the operation could complete.
    case timedOut
    /// The queue or channel is closed.
    case closed
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
    /// `operation` released more than was acquired (a `BoundedAsyncSemaphore`
    /// above its limit, `AsyncQueue.taskDone()` with no unfinished item).
    case overReleased(operation: String)

    public var description: String {
        switch self {
        case let .ioUringUnavailable(errno, hint):
            return "io_uring is unavailable (io_uring_setup: \(errno)): \(hint)"
        case .shutDown:
            return "RingLoop: the event loop (or group/pool) has shut down"
        case .promiseDropped:
            return "RingLoop: a Promise was deallocated without being completed"
        case let .blockingWaitOnEventLoop(operation):
            return "RingLoop: \(operation) would block an event loop thread; use `await` instead"
        case .timedOut:
            return "RingLoop: the deadline passed"
        case .closed:
            return "RingLoop: closed"
        case let .queueFull(operation, capacity):
            return "RingLoop: \(operation) refused: the queue is full (capacity \(capacity)); wait, or retry later"
        case let .noEventLoop(operation):
            return "RingLoop: \(operation) was called off any event loop; pass the loop to deliver the result on (`on: loop`)"
        case let .blockingWaitOnPoolWorker(operation):
            return "RingLoop: \(operation) was called on one of the pool's own worker threads and would wait for itself"
        case let .notLocked(operation):
            return "RingLoop: \(operation) requires the lock to be held"
        case let .overReleased(operation):
            return "RingLoop: \(operation) released more than was acquired"
        }
    }
}
