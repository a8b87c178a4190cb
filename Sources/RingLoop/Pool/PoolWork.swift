/// Work submitted with `ThreadPool.submitCancellable`: its future, and a way
/// to cancel it.
///
/// ```swift
/// let work = pool.submitCancellable(on: loop) { try render(page) }
/// …
/// work.cancel()          // dropped if not started; flagged if running
/// ```
public struct PoolWork<T: Sendable>: Sendable {
    /// Completes on the submitting loop with the work's outcome; fails with
    /// `CancellationError` if cancelled before it started.
    public let future: Future<T>
    @usableFromInline let job: TypedPoolJob<T>
    @usableFromInline let queue: PoolQueue

    @inlinable
    init(future: Future<T>, job: TypedPoolJob<T>, queue: PoolQueue) {
        self.future = future
        self.job = job
        self.queue = queue
    }

    /// Cancels the work, from any thread: if it has not started it is
    /// removed and its future fails with `CancellationError`; if it is running
    /// its `ThreadPool.isCancelled` flag turns true (the future then gets
    /// whatever the work returns or throws); once it has finished, nothing
    /// happens.
    public func cancel() {
        if queue.cancel(job) { job.abandon(CancellationError()) }
    }
}
