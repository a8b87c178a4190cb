#if canImport(Glibc)
import Glibc
#endif

/// Worker threads for CPU-heavy or blocking work, which must never run on an
/// event loop. Results come back on the loop that asked (callback code) or to
/// the awaiting task (async code).
///
/// ```swift
/// let pool = ThreadPool()                               // one worker per core
///
/// // From async code (the task resumes on its own executor, e.g. its loop):
/// let digest = try await pool.run { sha256(bigBuffer) }
///
/// // From loop callback code: the future completes on this loop.
/// let size = try pool.submit { try compress(chunk) }.map { $0.count }
///
/// // Split a large job into chunks run in parallel:
/// let lengths = try await pool.parallelMap(lines) { $0.utf8.count }
///
/// await pool.shutdownGracefully()
/// ```
///
/// **Queue and backpressure.** Work waits in a bounded FIFO queue
/// (`queueCapacity`). When it is full, `run` and `parallelMap` park the work
/// in a FIFO of waiters and stay suspended until a slot frees (no thread is
/// blocked); `submit` fails at once with `RingLoopError.queueFull` or parks
/// its work the same way, as the caller chooses (`onFull:`).
///
/// **Cancellation.** Work that has not started is removed (O(1)) and fails
/// with `CancellationError` when its task is cancelled (`run`, `parallelMap`)
/// or its handle is (`submitCancellable`). Running work is never interrupted:
/// it sees `ThreadPool.isCancelled` turn true and may stop early (for example
/// with `try ThreadPool.checkCancellation()`); its outcome, whatever it is, is
/// what the caller gets. So a `run` never returns while its closure still runs.
///
/// **Shutdown.** `shutdownGracefully()` runs everything already accepted;
/// `shutdown(cancellingPending: true)` fails queued work with
/// `RingLoopError.shutDown` and raises the cancellation flag of running work.
/// Both are idempotent, wait for running work and join every worker thread.
/// Work submitted afterwards fails with `RingLoopError.shutDown`.
///
/// Workers are threads of their own, never loop threads; a loop thread only
/// takes the pool's lock briefly to enqueue and never waits on the pool.
/// Work that blocks a worker until other work of the same pool has run (a
/// `Future.wait()` on a job queued behind it) can deadlock a busy pool:
/// chain futures or `await` instead.
public final class ThreadPool: Sendable, CustomStringConvertible {
    /// What `submit` does when the queue is full.
    public enum FullQueuePolicy: Sendable {
        /// Fail the returned future at once with `RingLoopError.queueFull`.
        case fail
        /// Park the work in the FIFO of waiters until a slot frees; the
        /// future simply completes later. Nothing blocks.
        case wait
    }

    /// The pool's name; workers are named `<name>-<index>`.
    public let name: String
    /// Number of worker threads.
    public let threadCount: Int
    @usableFromInline let queue: PoolQueue
    private let threads: [pthread_t]

    /// Starts `threadCount` worker threads.
    ///
    /// - Parameters:
    ///   - threadCount: worker threads (at least 1); one per core by default.
    ///   - queueCapacity: work items queued before `run` waits and `submit`
    ///     fails or waits (at least 1).
    ///   - name: thread name prefix (thread names are cut to 15 bytes).
    public init(threadCount: Int = System.coreCount, queueCapacity: Int = 4096, name: String = "ringloop-pool") {
        let count = max(1, threadCount)
        let queue = PoolQueue(capacity: max(1, queueCapacity), workers: count)
        self.name = name
        self.threadCount = count
        self.queue = queue
        self.threads = (0..<count).map { index in
            let worker = PoolWorker(queue: queue)
            return Threads.spawn(name: "\(name)-\(index)") { worker.run() }
        }
    }

    deinit {
        // Reached only when no shutdown is running (a shutdown holds `self`).
        // Dropped without a shutdown: let the workers finish what was accepted
        // and stop on their own; nobody is left to join them.
        _ = queue.shutdown(cancellingPending: false)
        if queue.claimJoin() {
            for thread in threads { Threads.detach(thread) }
            queue.finishJoin()
        }
    }

    public var description: String { "ThreadPool(\(name), \(threadCount) threads)" }

    /// Work items the queue holds before admissions wait or fail.
    public var queueCapacity: Int { queue.capacity }

    // MARK: Submitting from callback code

    /// Runs `body` on a worker; the future completes on `loop`.
    ///
    /// The future completes after whatever `body` itself handed to `loop`
    /// (`loop.execute { … }`) has run, and once the work no longer counts as
    /// running in `statistics`.
    ///
    /// - Parameters:
    ///   - loop: the loop whose thread receives the outcome (and runs the
    ///     future's callbacks).
    ///   - onFull: when the queue is full, fail at once with
    ///     `RingLoopError.queueFull` (`.fail`), or park the work until a slot
    ///     frees (`.wait`, the default).
    ///   - file: where the work was submitted (diagnostics).
    ///   - line: where the work was submitted (diagnostics).
    ///   - body: the work; what it throws fails the future.
    /// - Returns: a future failing with `RingLoopError.shutDown` if the pool has
    ///   shut down, or `RingLoopError.queueFull` as above.
    ///
    /// ```swift
    /// pool.submit(on: loop) { render(page) }.whenSuccess { html in … }
    /// ```
    @inlinable
    public func submit<T: Sendable>(
        on loop: EventLoop,
        onFull: FullQueuePolicy = .wait,
        file: StaticString = #fileID, line: UInt = #line,
        _ body: consuming @escaping @Sendable () throws -> T
    ) -> Future<T> {
        enqueueForFuture(on: loop, onFull: onFull, file: file, line: line, body)
    }

    /// Runs `body` on a worker; the future completes on the caller's loop.
    /// See `submit(on:onFull:_:)`.
    ///
    /// - Throws: `RingLoopError.noEventLoop` when called off every loop thread
    ///   (there is no loop to deliver on: use `submit(on:)`). Every other
    ///   failure arrives through the future.
    @inlinable
    public func submit<T: Sendable>(
        onFull: FullQueuePolicy = .wait,
        file: StaticString = #fileID, line: UInt = #line,
        _ body: consuming @escaping @Sendable () throws -> T
    ) throws(RingLoopError) -> Future<T> {
        guard let loop = EventLoop.current else { throw .noEventLoop(operation: "ThreadPool.submit") }
        return enqueueForFuture(on: loop, onFull: onFull, file: file, line: line, body)
    }

    /// Like `submit(on:onFull:_:)`, with a handle to cancel the work (see
    /// `PoolWork.cancel()`).
    @inlinable
    public func submitCancellable<T: Sendable>(
        on loop: EventLoop,
        onFull: FullQueuePolicy = .wait,
        file: StaticString = #fileID, line: UInt = #line,
        _ body: @escaping @Sendable () throws -> T
    ) -> PoolWork<T> {
        let (future, job) = enqueue(on: loop, onFull: onFull, file: file, line: line, body)
        return PoolWork(future: future, job: job, queue: queue)
    }

    /// `enqueue` for a caller that keeps only the future: the job's one
    /// reference goes to the queue (see `PoolQueue.admit(transferring:)`).
    @inlinable
    func enqueueForFuture<T: Sendable>(
        on loop: EventLoop, onFull: FullQueuePolicy,
        file: StaticString, line: UInt,
        _ body: consuming @escaping @Sendable () throws -> T
    ) -> Future<T> {
        let future = Future<T>(eventLoop: loop)
        let entry = Unmanaged<PoolJob>.passRetained(TypedPoolJob(body: body, future: future, file: file, line: line))
        if let error = queue.admit(transferring: entry, onFull: onFull, operation: "ThreadPool.submit") {
            entry.takeRetainedValue().abandon(error)
        }
        return future
    }

    @inlinable
    func enqueue<T: Sendable>(
        on loop: EventLoop, onFull: FullQueuePolicy,
        file: StaticString, line: UInt,
        _ body: @escaping @Sendable () throws -> T
    ) -> (future: Future<T>, job: TypedPoolJob<T>) {
        let future = Future<T>(eventLoop: loop)
        let job = TypedPoolJob(body: body, future: future, file: file, line: line)
        if let error = queue.admit(job, onFull: onFull, operation: "ThreadPool.submit") { job.abandon(error) }
        return (future, job)
    }

    // MARK: Inside the work

    /// Whether the work running on the calling worker thread has been asked
    /// to stop (its task or handle was cancelled, or the pool is shutting down
    /// with `cancellingPending`). False outside pool work.
    ///
    /// ```swift
    /// try await pool.run {
    ///     for block in blocks {
    ///         try ThreadPool.checkCancellation()
    ///         process(block)
    ///     }
    /// }
    /// ```
    public static var isCancelled: Bool { PoolWorker.current?.job?.isCancelled ?? false }

    /// The pool job running on the calling thread, if it is a pool worker.
    @usableFromInline
    static var runningJob: PoolJob? { PoolWorker.current?.job }

    /// Throws `CancellationError` if `isCancelled`.
    public static func checkCancellation() throws(CancellationError) {
        if isCancelled { throw CancellationError() }
    }

    // MARK: Blocking shutdown

    /// Shuts down gracefully (see `shutdownGracefully()`), blocking the
    /// calling thread until every worker has been joined.
    ///
    /// - Throws: `RingLoopError.blockingWaitOnEventLoop` on a loop thread,
    ///   `RingLoopError.blockingWaitOnPoolWorker` on one of this pool's
    ///   workers (both refuse before doing anything).
    public func syncShutdownGracefully() throws(RingLoopError) {
        try syncShutdown(cancellingPending: false, operation: "ThreadPool.syncShutdownGracefully")
    }

    /// Shuts down (see `shutdown(cancellingPending:)`), blocking the calling
    /// thread until every worker has been joined.
    ///
    /// - Throws: as `syncShutdownGracefully()`.
    public func syncShutdown(cancellingPending: Bool) throws(RingLoopError) {
        try syncShutdown(cancellingPending: cancellingPending, operation: "ThreadPool.syncShutdown")
    }

    private func syncShutdown(cancellingPending: Bool, operation: String) throws(RingLoopError) {
        if CurrentLoop.isLoopThread { throw .blockingWaitOnEventLoop(operation: operation) }
        if PoolWorker.current?.queue === queue { throw .blockingWaitOnPoolWorker(operation: operation) }
        beginShutdown(cancellingPending: cancellingPending)
        queue.waitUntilWorkersStopped()
        if queue.claimJoin() {
            joinWorkers()
            queue.finishJoin()
        } else {
            queue.waitUntilJoined()
        }
    }

    /// Stops admissions (and with `cancellingPending`, fails what is queued).
    func beginShutdown(cancellingPending: Bool) {
        for job in queue.shutdown(cancellingPending: cancellingPending) {
            job.abandon(RingLoopError.shutDown)
        }
    }

    /// Joins every worker. Called by the one caller that won `claimJoin()`,
    /// after every worker has left its loop, so each join only waits for a
    /// thread's exit.
    func joinWorkers() {
        for thread in threads { Threads.join(thread) }
    }
}
