extension Future {
    /// A future that completes like this one, or fails with
    /// `RingLoopError.timedOut(operation:)` when `deadline` passes first: `asyncio.wait_for` for callback code.
    ///
    /// A future has no owner to cancel, so the work behind it goes on; pass
    /// `onTimeout` to stop it (cancel a `Scheduled`, a `PoolWork`, a task).
    /// For I/O, give the operation's `Future` form its own `deadline:` or
    /// `timeout:` instead (`socket.receive(timeout:)`): that stops the
    /// operation itself, so a timed-out receive consumes nothing.
    /// The returned future completes on this future's loop.
    ///
    /// - Parameters:
    ///   - deadline: when to give up.
    ///   - operation: names what timed out in the `.timedOut` error.
    ///   - onTimeout: runs on the loop when (and only if) the deadline wins,
    ///     right after the returned future has failed.
    ///
    /// ```swift
    /// let work = pool.submitCancellable(on: loop) { render(page) }
    /// work.future.withDeadline(.now() + .seconds(1), operation: "render", onTimeout: { work.cancel() })
    ///     .whenFailure { error in … }   // RingLoopError.timedOut(operation: "render")
    /// ```
    public func withDeadline(
        _ deadline: Deadline,
        operation: String = "Future",
        onTimeout: (@Sendable () -> Void)? = nil
    ) -> Future<Value> {
        limited(by: deadline, operation: operation, onTimeout: onTimeout)
    }

    /// `withDeadline(_:operation:onTimeout:)` with a deadline `timeout` from now.
    public func withTimeout(
        _ timeout: Duration,
        operation: String = "Future",
        onTimeout: (@Sendable () -> Void)? = nil
    ) -> Future<Value> {
        limited(by: .now() + max(timeout, .zero), operation: operation, onTimeout: onTimeout)
    }

    private func limited(
        by deadline: Deadline,
        operation: String,
        onTimeout: (@Sendable () -> Void)?
    ) -> Future<Value> {
        let next = Future<Value>(eventLoop: eventLoop)
        let timer = eventLoop.schedule(at: deadline) {
            if next._setResult(.failure(RingLoopError.timedOut(operation: operation))) { onTimeout?() }
        }
        whenComplete { result in
            timer.cancel()
            next._setResult(result)
        }
        // The loop shutting down fails the timer: the deadline never comes,
        // but the outcome of this future still does.
        return next
    }
}
