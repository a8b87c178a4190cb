/// Something in flight on a loop that its starter can cancel (loop thread).
protocol LoopCancellable: AnyObject {
    /// Stops the work: the caller is answered with `CancellationError` at
    /// once; memory the kernel may touch stays owned until its completion.
    func cancel()
}

/// Starts loop-side work (on the loop thread) that reports through `done`
/// exactly once; returns what can cancel it, or nil if it finished already.
///
/// One starter serves both forms of an operation: `performRequest` (async)
/// and `futureRequest` (a `Future`).
typealias RequestStarter<T> = @Sendable (_ done: @escaping (Result<T, any Error>) -> Void) -> LoopCancellable?

extension EventLoop {
    /// Runs `start` on this loop and waits for its outcome, honouring task
    /// cancellation: a task cancelled before the request starts throws
    /// `CancellationError` without starting it; one cancelled while it runs
    /// cancels the request and resumes once, with `CancellationError`.
    ///
    /// A `deadline` that passes stops the request the same way and throws
    /// `RingLoopError.timedOut(operation)`.
    ///
    /// Built on the one task-to-loop bridge, `awaitOperation`.
    func performRequest<T: Sendable>(
        deadline: Deadline = .distantFuture, operation: String = "operation",
        _ start: @escaping RequestStarter<T>
    ) async throws -> T {
        try await awaitOperation(deadline: deadline, operation: operation, Self.waiting(on: start))
    }

    /// Runs `start` on this loop; the future completes with its outcome, or
    /// fails with `RingLoopError.timedOut(operation)` once `deadline` has
    /// passed, the request then stopped as `performRequest`'s deadline stops
    /// it. Built on `futureOperation`, the `Future` twin of `awaitOperation`.
    func futureRequest<T: Sendable>(
        deadline: Deadline, operation: String, _ start: @escaping RequestStarter<T>
    ) -> Future<T> {
        futureOperation(deadline: deadline, operation: operation, Self.waiting(on: start))
    }

    /// Starts a request for a waiter (task or future) and lets the waiter's
    /// cancel (or deadline) cancel it.
    private static func waiting<T: Sendable>(on start: @escaping RequestStarter<T>) -> @Sendable (AsyncWaiter<T>) -> Void {
        { waiter in
            let request = start { result in waiter.resume(result) }
            if waiter.isWaiting, let request {
                // Answers through `done` with CancellationError; the request's
                // memory stays owned by its operation until the final completion.
                waiter.onCancel = { request.cancel() }
            }
        }
    }

    /// Runs `start` on this loop; the future completes with its outcome.
    func futureRequest<T: Sendable>(_ start: @escaping RequestStarter<T>) -> Future<T> {
        let future = Future<T>(eventLoop: self)
        if inEventLoop {
            _ = start { future._setResult($0) }
        } else {
            execute { _ = start { future._setResult($0) } }
        }
        return future
    }
}
