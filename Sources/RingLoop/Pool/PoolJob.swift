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

/// A `PoolJob` producing a `T`, and where that value goes: a future on its
/// loop, a suspended `run`, or an internal callback (parallel map chunks).
/// Exactly one of the three is set before admission.
// Safe to share: as `PoolJob`; the payload (body, future, continuation,
// callback) is written before admission and afterwards touched only by the
// single deliverer.
final class TypedPoolJob<T: Sendable>: PoolJob, @unchecked Sendable {
    /// Dropped once run, so a finished job keeps nothing of the caller alive.
    private var body: (@Sendable () throws -> T)?
    /// Completed on its loop; `file:line` name the submission in the loop's
    /// slow-callback reports.
    private var future: Future<T>?
    private let file: StaticString
    private let line: UInt
    /// Resumes a suspended `run`; set just before admission.
    var continuation: UnsafeContinuation<T, any Error>?
    private var callback: (@Sendable (Result<T, any Error>) -> Void)?

    /// A job whose outcome completes `future`.
    init(body: @escaping @Sendable () throws -> T, future: Future<T>, file: StaticString, line: UInt) {
        self.body = body
        self.future = future
        self.file = file
        self.line = line
    }

    /// A job whose outcome goes to `continuation` (set before admission) or
    /// to `callback`.
    init(body: @escaping @Sendable () throws -> T, callback: (@Sendable (Result<T, any Error>) -> Void)? = nil) {
        self.body = body
        self.callback = callback
        self.file = #fileID
        self.line = #line
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
        if let future {
            self.future = nil
            let loop = future.eventLoop
            if loop.inEventLoop {
                future._setResult(result)
            } else {
                loop.execute(file: file, line: line) { future._setResult(result) }
            }
        } else if let continuation {
            self.continuation = nil
            continuation.resume(with: result)
        } else if let callback {
            self.callback = nil
            callback(result)
        }
    }
}
