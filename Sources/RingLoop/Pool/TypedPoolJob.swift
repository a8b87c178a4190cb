/// A `PoolJob` producing a `T`, and where that value goes: a future on its
/// loop, a suspended `run`, or an internal callback (parallel map chunks).
///
/// Inlinable, so that the job is created, run and delivered by code
/// specialized for `T` in the caller's module.
///
/// An outcome bound for a future is staged in the future itself
/// (`Future._stageOutcome`), and the future crosses to the loop inside the
/// job (a `LoopRunnable`) after the worker has retired the job: no closure is
/// allocated for the hand-over, and the job, the caller's closure and the
/// future, all allocated on the loop, are released there too (a worker
/// freeing what a loop allocated takes glibc malloc's slow path). No payload
/// of `Destination` depends on `T`'s layout, so the job's deinit (run
/// unspecialized) needs no generic metadata lookup.
// Safe to share: as `PoolJob`; the payload (body, destination) is written
// before admission and afterwards touched only by the single deliverer, and by
// the loop once the deliverer has queued the job on it (the outcome staged in
// the future likewise, see `Future`).
@usableFromInline final class TypedPoolJob<T: Sendable>: PoolJob, @unchecked Sendable {
    /// Where the outcome goes; exactly one, set before admission.
    @usableFromInline enum Destination {
        /// Completed on its loop.
        case future(Future<T>)
        /// A future whose outcome is staged in it, between the worker running
        /// the body and the loop completing the future.
        case futureStaged(Future<T>)
        /// Resumes a suspended `run`; set just before admission.
        case continuation(UnsafeContinuation<T, any Error>)
        case callback(@Sendable (Result<T, any Error>) -> Void)
        /// Not set yet, or delivered.
        case none
    }

    // `@exclusivity(unchecked)`, both: touched by one party at a time (see
    // above), so no access can overlap another; the runtime checks would
    // only cost.

    /// Dropped once the outcome is delivered, so a finished job keeps nothing
    /// of the caller alive.
    @usableFromInline @exclusivity(unchecked) var body: (@Sendable () throws -> T)?
    /// Where the outcome goes.
    @usableFromInline @exclusivity(unchecked) var destination: Destination
    /// Name the submission in the loop's slow-callback reports.
    @usableFromInline let file: StaticString
    @usableFromInline let line: UInt32

    /// A job whose outcome completes `future`.
    @inlinable
    init(body: @escaping @Sendable () throws -> T, future: Future<T>, file: StaticString, line: UInt) {
        self.body = body
        self.destination = .future(future)
        self.file = file
        self.line = UInt32(truncatingIfNeeded: line)
        super.init(perform: { job, action in unsafeDowncast(job, to: TypedPoolJob<T>.self).perform(action) })
    }

    /// A job whose outcome goes to a continuation (set with
    /// `setContinuation` before admission) or to `callback`.
    @inlinable
    init(body: @escaping @Sendable () throws -> T, callback: (@Sendable (Result<T, any Error>) -> Void)? = nil) {
        self.body = body
        self.destination = callback.map { .callback($0) } ?? .none
        self.file = #fileID
        self.line = #line
        super.init(perform: { job, action in unsafeDowncast(job, to: TypedPoolJob<T>.self).perform(action) })
    }

    @inlinable
    func setContinuation(_ continuation: UnsafeContinuation<T, any Error>) {
        destination = .continuation(continuation)
    }

    @inlinable
    func perform(_ action: Action) {
        switch action {
        case .run:
            // Moved out and back rather than copied: the worker then touches
            // neither the body's nor the future's reference count, whose
            // cache lines the loop thread owns.
            guard let body = body.take() else { return }
            let result = Result { try body() }
            switch takeDestination() {
            case let .future(future):
                // Handed over by `deliverStored` once the worker has retired
                // the job; the body goes with the job to the loop.
                self.body = body
                future._stageOutcome(result)
                destination = .futureStaged(future)
            case let other:
                destination = other
                deliver(result)
            }
        case let .fail(error):
            guard body != nil else { return }
            if case .futureStaged = destination { return }
            body = nil
            deliver(.failure(error))
        case .deliverStored:
            guard case let .futureStaged(future) = destination else { return }
            // Unretained: the future, which `destination` holds, keeps its loop
            // alive, and the loop's reference count is shared by every thread
            // handing it work. The loop's queue then holds the job; nothing
            // here touches it again.
            let loop = Unmanaged.passUnretained(future.eventLoop)
            loop._withUnsafeGuaranteedRef { $0.execute(self, file: file, line: UInt(line)) }
        case .completeOnLoop:
            switch takeDestination() {
            case let .futureStaged(future):
                body = nil
                future._completeWithStaged()
            case let other:
                destination = other
            }
        }
    }

    /// Moves the destination out, leaving `.none`.
    @inlinable
    func takeDestination() -> Destination {
        var taken = Destination.none
        swap(&taken, &destination)
        return taken
    }

    @inlinable
    func deliver(_ result: Result<T, any Error>) {
        switch destination {
        case let .future(future):
            let loop = future.eventLoop
            if loop.inEventLoop {
                destination = .none
                future._setResult(result)
            } else {
                future._stageOutcome(result)
                destination = .futureStaged(future)
                loop.execute(self, file: file, line: UInt(line))
            }
        case let .continuation(continuation):
            destination = .none
            tsanRelease(self)
            continuation.resume(with: result)
        case let .callback(callback):
            destination = .none
            callback(result)
        case .futureStaged, .none:
            break
        }
    }
}
