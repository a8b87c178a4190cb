import Synchronization

/// One unit of work handed to a `ThreadPool`: a node of the pool's intrusive
/// lists (queue, waiters, running), with the state machine that makes its
/// outcome delivered exactly once.
///
/// Exactly one party delivers the outcome: the worker that ran it
/// (`execute()`), or whoever took it out of a list before it ran
/// (`abandon(_:)`): a canceller, a cancelling shutdown, or a refused
/// admission. The state transitions that decide who that is all happen under
/// the pool's lock.
///
/// This base class carries the links and the state; `TypedPoolJob<T>` carries
/// the closure and where its result goes, and supplies `perform`, a closure
/// without captures created where `T` is known, so both the submitting side
/// and the worker side run code specialized for the caller's types.
// Safe to share: `state`, `next` and `previous` are touched only under the
// owning `PoolQueue`'s lock; `cancelRequested` is atomic; `perform` is
// immutable; the subclass's payload is written before admission and read by
// the single deliverer after the lock hand-off that made it the deliverer.
@usableFromInline class PoolJob: @unchecked Sendable {
    enum State: UInt8 {
        /// Created, not yet admitted.
        case new
        /// Cancelled before admission: admission fails it.
        case cancelledEarly
        /// Admitted, parked in the waiter FIFO because the queue was full.
        case waiting
        /// In the queue, ready for a worker.
        case queued
        /// A worker is running it.
        case running
        /// Its outcome has been (or is being) delivered; nothing more to do.
        case done
    }

    var state = State.new
    /// Links of whichever `JobList` holds the job; the list owns `next`.
    var next: PoolJob?
    unowned(unsafe) var previous: PoolJob?
    private let cancelRequested = Atomic<Bool>(false)
    /// Runs the work and delivers its outcome (error nil), or delivers the
    /// error without running it.
    @usableFromInline let perform: @Sendable (PoolJob, (any Error)?) -> Void

    @inlinable
    init(perform: @escaping @Sendable (PoolJob, (any Error)?) -> Void) {
        self.perform = perform
    }

    /// Whether cancellation was requested while the job was running; read by
    /// the job's own code through `ThreadPool.isCancelled`.
    final var isCancelled: Bool { cancelRequested.load(ordering: .relaxed) }

    final func requestCancellation() { cancelRequested.store(true, ordering: .relaxed) }

    /// Runs the work on a worker thread and delivers its outcome.
    final func execute() { perform(self, nil) }

    /// Delivers `error` without running the work.
    @usableFromInline
    final func abandon(_ error: any Error) { perform(self, error) }
}
