import Synchronization

/// One unit of work handed to a `ThreadPool`: a node of the pool's intrusive
/// lists (queue, waiters, running), with the state machine that makes its
/// outcome delivered exactly once.
///
/// Exactly one party delivers the outcome: the worker that ran it
/// (`execute()`, then `deliverStored()` for an outcome bound for a loop), or
/// whoever took it out of a list before it ran
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
// the single deliverer after the lock hand-off that made it the deliverer; an
// outcome stored for a loop is written by the worker and read on the loop
// after the loop's queue lock has handed the job over.
@usableFromInline class PoolJob: LoopRunnable, @unchecked Sendable {
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

    /// What `perform` is asked to do.
    @usableFromInline enum Action {
        /// Run the work (on a worker). An outcome bound for a loop is only
        /// stored; `deliverStored` hands it over once the job is retired.
        case run
        /// Deliver this error without running the work.
        case fail(any Error)
        /// Hand a stored outcome to its loop (worker, after retiring the job).
        case deliverStored
        /// Deliver the stored outcome (on its loop, which `deliverStored`
        /// queued the job on).
        case completeOnLoop
    }

    // `@exclusivity(unchecked)` (links and state): touched only under the
    // queue's lock, so no access can overlap another.

    /// Links of whichever `JobList` holds the job (unmanaged: the list keeps
    /// its own reference to each of its jobs).
    @exclusivity(unchecked) var next: Unmanaged<PoolJob>?
    @exclusivity(unchecked) var previous: Unmanaged<PoolJob>?
    /// Runs the work, fails it, or hands its stored outcome over (see `Action`).
    @usableFromInline let perform: @Sendable (PoolJob, Action) -> Void
    @exclusivity(unchecked) var state = State.new
    private let cancelRequested = Atomic<Bool>(false)

    @inlinable
    init(perform: @escaping @Sendable (PoolJob, Action) -> Void) {
        self.perform = perform
    }

    /// Whether cancellation was requested while the job was running; read by
    /// the job's own code through `ThreadPool.isCancelled`.
    @usableFromInline
    final var isCancelled: Bool { cancelRequested.load(ordering: .relaxed) }

    final func requestCancellation() { cancelRequested.store(true, ordering: .relaxed) }

    /// Runs the work on a worker thread; delivers its outcome, or stores it
    /// for `deliverStored()`.
    final func execute() { perform(self, .run) }

    /// Called by the worker once the job is retired (no longer counted as
    /// running), outside the pool's lock: hands an outcome that `execute()`
    /// stored to its loop. Does nothing for other jobs.
    final func deliverStored() { perform(self, .deliverStored) }

    /// Runs on the loop `deliverStored()` queued the job on. (Through
    /// `perform`, so that the code delivering runs specialized for the job's
    /// result type; a generic subclass's own witness would not.)
    @usableFromInline
    final func runOnLoop() { perform(self, .completeOnLoop) }

    /// Delivers `error` without running the work.
    @usableFromInline
    final func abandon(_ error: any Error) { perform(self, .fail(error)) }
}
