/// One caller suspended in an async I/O operation, as the operation sees it:
/// resume it once with the outcome, or let task cancellation remove it. This
/// is RingLoop's one task-to-loop bridge: sockets use it directly through
/// `awaitOperation`, file requests through `performRequest`.
///
/// A task already cancelled when it asks for an operation throws
/// `CancellationError` without starting it. Otherwise registration,
/// completion and cancellation all happen on the loop thread, in whichever
/// order they arrive: a cancel that arrives before the operation registered is
/// remembered and fails the registration; one that arrives while waiting runs
/// `onCancel` (set by the operation: forget the waiter, cancel the kernel
/// operation) and then resumes the waiter with `CancellationError` unless
/// `onCancel` resumed it already or the operation deferred the answer
/// (`cancellationIsDeferred`: it resumes the waiter once it knows what it
/// did); one that arrives after completion does nothing. The continuation is resumed exactly once; the operation's buffers
/// stay with its completion handler until the kernel's final CQE.
// Safe to share: every field is touched only on the owning loop's thread
// (the cancellation handler hops there with `execute`).
final class AsyncWaiter<Value: Sendable>: @unchecked Sendable {
    private enum State {
        case idle
        case cancelledEarly
        case waiting(UnsafeContinuation<Value, any Error>)
        case done
    }

    private var state = State.idle
    /// What the operation does when the task is cancelled while it waits.
    /// Cleared once the waiter is resumed (which also breaks the cycle it
    /// usually forms with the I/O object).
    var onCancel: (() -> Void)?
    /// Set by an operation whose `onCancel` may not know yet whether it did
    /// something (a send the kernel holds): the waiter is then not resumed
    /// with `CancellationError` after `onCancel`; the operation resumes it
    /// with what happened.
    var cancellationIsDeferred = false

    /// Whether the caller is still waiting for an outcome.
    var isWaiting: Bool {
        if case .waiting = state { return true }
        return false
    }

    /// Resumes the caller; later calls do nothing.
    func resume(_ result: Result<Value, any Error>) {
        guard case let .waiting(continuation) = state else { return }
        state = .done
        onCancel = nil
        continuation.resume(with: result)
    }

    fileprivate func begin(_ continuation: UnsafeContinuation<Value, any Error>, _ start: (AsyncWaiter<Value>) -> Void) {
        if case .cancelledEarly = state {
            state = .done
            continuation.resume(throwing: CancellationError())
            return
        }
        state = .waiting(continuation)
        start(self)
    }

    fileprivate func cancel() {
        switch state {
        case .idle:
            state = .cancelledEarly
        case .waiting:
            if let action = onCancel {
                onCancel = nil
                action()
                if cancellationIsDeferred { return }
            }
            resume(.failure(CancellationError()))
        case .cancelledEarly, .done:
            break
        }
    }
}

extension EventLoop {
    /// Suspends the calling task until the operation that `start` registers
    /// (on this loop's thread) resumes the waiter it is given. Cancelling the
    /// task runs the waiter's `onCancel` on the loop.
    func awaitOperation<Value: Sendable>(
        _ start: @escaping @Sendable (AsyncWaiter<Value>) -> Void
    ) async throws -> Value {
        // An operation a cancelled task asks for is not started at all.
        try Task.checkCancellation()
        let waiter = AsyncWaiter<Value>()
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Value, any Error>) in
                if self.inEventLoop {
                    waiter.begin(continuation, start)
                } else {
                    self.execute { waiter.begin(continuation, start) }
                }
            }
        } onCancel: {
            // Always hop, even from the loop thread: `cancel()` may run from
            // inside a callback that is mutating the I/O object.
            self.execute { waiter.cancel() }
        }
    }
}
