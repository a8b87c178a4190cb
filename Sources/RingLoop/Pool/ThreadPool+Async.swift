/// `ThreadPool` from async code: running work and shutting down without
/// blocking a thread.
extension ThreadPool {
    /// Runs `body` on a worker and returns its result to the awaiting task,
    /// which resumes on its own executor (a task on a loop resumes on that
    /// loop's thread).
    ///
    /// When the queue is full, the work waits in the FIFO of waiters and the
    /// task stays suspended until a slot frees; no thread blocks.
    ///
    /// Cancelling the task removes the work if it has not started (this
    /// throws `CancellationError`); if it is running, its
    /// `ThreadPool.isCancelled` flag turns true and `run` returns (or throws)
    /// whatever the work then produces.
    ///
    /// - Throws: what `body` throws; `CancellationError`; or
    ///   `RingLoopError.shutDown` if the pool has shut down (or shut down with
    ///   `cancellingPending` before the work started).
    ///
    /// ```swift
    /// let thumbnail = try await pool.run { try Image(data).scaled(to: 128) }
    /// ```
    @inlinable
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let job = TypedPoolJob(body: body)
        let queue = self.queue
        defer { tsanAcquire(job) }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<T, any Error>) in
                // Written before admission; from then on only the deliverer
                // touches it. A cancellation racing ahead of this point leaves
                // the job `.cancelledEarly`, and admission fails it.
                job.setContinuation(continuation)
                if let error = queue.admit(job, onFull: .wait, operation: "ThreadPool.run") { job.abandon(error) }
            }
        } onCancel: {
            if queue.cancel(job) { job.abandon(CancellationError()) }
        }
    }

    /// Shuts down gracefully: takes no new work, runs every job already
    /// accepted (queued or waiting for a slot), then joins every worker.
    /// Idempotent; concurrent callers all return once the workers are joined.
    ///
    /// Never blocks the calling thread: it waits for the workers to stop
    /// suspended, and joins them (which then takes only as long as a thread
    /// exit) off any loop thread. Not cancellable.
    public func shutdownGracefully() async {
        await shutdown(cancellingPending: false)
    }

    /// Shuts down; with `cancellingPending`, fails every job that has not
    /// started with `RingLoopError.shutDown` and raises the cancellation flag
    /// (`ThreadPool.isCancelled`) of the running ones, then waits for those to
    /// return and joins every worker. Without it, this is `shutdownGracefully()`.
    ///
    /// Idempotent; a cancelling call after a graceful one still fails what is
    /// left. Never blocks the calling thread; not cancellable.
    public func shutdown(cancellingPending: Bool) async {
        beginShutdown(cancellingPending: cancellingPending)
        let queue = self.queue
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            queue.whenWorkersStopped { continuation.resume() }
        }
        if queue.claimJoin() {
            if CurrentLoop.isLoopThread {
                // pthread_join blocks (briefly: the workers have stopped); keep
                // it off the loop.
                await Task.detached { self.joinWorkers() }.value
            } else {
                joinWorkers()
            }
            queue.finishJoin()
        } else {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                queue.whenJoined { continuation.resume() }
            }
        }
    }
}
