/// Running jobs from callback code: Python's
/// `ProcessPoolExecutor.submit(fn, x)`, returning a `Future` completed on a
/// loop you choose (the pool's own by default).
///
/// Each is `run` as a task on that loop, with the same queueing, failures
/// and limits. A future has no task to cancel it: bound a job with
/// `timeout:` (its running time) or `deadline:` (the whole call: a job still
/// queued at its deadline never runs, a running one has its worker killed),
/// or stop everything with `shutdown(cancellingPending: true)`.
///
/// ```swift
/// pool.submit(square, 7, deadline: .now() + .seconds(2)).whenComplete { result in … }
/// ```
extension ProcessPool {
    /// `run(_:_:timeout:)` for callback code: runs `job` on `input` in a
    /// worker; the future completes on `loop` (nil: the pool's `eventLoop`)
    /// with its output, or fails as `run(_:_:timeout:)` throws.
    public func submit<Input, Output>(
        _ job: Job<Input, Output>, _ input: Input, timeout: Duration? = nil, on loop: EventLoop? = nil
    ) -> Future<Output> {
        (loop ?? eventLoop).makeFutureWithTask { try await self.run(job, input, timeout: timeout) }
    }

    /// `run(_:_:deadline:)` for callback code: `deadline` covers the whole
    /// call, and past it the future fails with
    /// `RingLoopError.timedOut(operation: "ProcessPool.run(<job>)")`.
    public func submit<Input, Output>(
        _ job: Job<Input, Output>, _ input: Input, deadline: Deadline, on loop: EventLoop? = nil
    ) -> Future<Output> {
        (loop ?? eventLoop).makeFutureWithTask { try await self.run(job, input, deadline: deadline) }
    }
}
