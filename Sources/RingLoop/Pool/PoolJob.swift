import Synchronization

/// One unit of work handed to a `ThreadPool`: a node of the pool's intrusive
/// lists (queue, waiters, running), with the state machine that makes its
/// outcome delivered exactly once.
///
/// Exactly one party delivers the outcome: the worker that ran it
/// (`execute()`), or whoever took it out of a list before it ran (`abandon`):
/// a canceller, a cancelling shutdown, or a refused admission. The state
/// transitions that decide who that is all happen under the pool's lock.
///
/// The base class carries the links and the state; `TypedPoolJob<T>` carries
/// the closure and where its result goes.
// Safe to share: `state`, `next` and `previous` are touched only under the
// owning `PoolQueue`'s lock; `cancelRequested` is atomic; the subclass's
// payload is written before admission and read by the single deliverer after
// the lock hand-off that made it the deliverer.
class PoolJob: @unchecked Sendable {
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

    /// Whether cancellation was requested while the job was running; read by
    /// the job's own code through `ThreadPool.isCancelled`.
    final var isCancelled: Bool { cancelRequested.load(ordering: .relaxed) }

    final func requestCancellation() { cancelRequested.store(true, ordering: .relaxed) }

    /// Runs the work on a worker thread and delivers its outcome. Overridden
    /// by `TypedPoolJob`; the base class has no work.
    func execute() {}

    /// Delivers `error` without running the work. Overridden by `TypedPoolJob`.
    func abandon(_ error: any Error) {}
}

/// A `PoolJob` producing a `T`, and where that value goes.
final class TypedPoolJob<T: Sendable>: PoolJob, @unchecked Sendable {
    enum Delivery {
        /// Complete a future on its loop; `file:line` name the submission in
        /// the loop's slow-callback reports.
        case future(Future<T>, file: StaticString, line: UInt)
        /// Resume a suspended `run`.
        case continuation(UnsafeContinuation<T, any Error>)
        /// Hand the outcome to internal code (parallel map chunks).
        case callback(@Sendable (Result<T, any Error>) -> Void)
    }

    /// Dropped once run, so a finished job keeps nothing of the caller alive.
    private var body: (@Sendable () throws -> T)?
    /// Set before admission; consumed by the single deliverer.
    var delivery: Delivery?

    init(body: @escaping @Sendable () throws -> T, delivery: Delivery? = nil) {
        self.body = body
        self.delivery = delivery
    }

    override func execute() {
        guard let body else { return }
        self.body = nil
        deliver(Result { try body() })
    }

    override func abandon(_ error: any Error) {
        body = nil
        deliver(.failure(error))
    }

    private func deliver(_ result: Result<T, any Error>) {
        guard let delivery else { return }
        self.delivery = nil
        switch delivery {
        case let .future(future, file, line):
            let loop = future.eventLoop
            if loop.inEventLoop {
                future._setResult(result)
            } else {
                loop.execute(file: file, line: line) { future._setResult(result) }
            }
        case let .continuation(continuation):
            continuation.resume(with: result)
        case let .callback(callback):
            callback(result)
        }
    }
}
