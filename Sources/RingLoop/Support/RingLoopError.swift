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
        }
    }
}
