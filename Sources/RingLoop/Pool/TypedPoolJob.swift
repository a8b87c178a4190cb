/// A `PoolJob` producing a `T`, and where that value goes: a future on its
/// loop, a suspended `run`, or an internal callback (parallel map chunks).
/// Exactly one of the three is set before admission.
///
/// Inlinable, so that the job is created, run and delivered by code
/// specialized for `T` in the caller's module.
// Safe to share: as `PoolJob`; the payload (body, future, continuation,
// callback) is written before admission and afterwards touched only by the
// single deliverer.
@usableFromInline final class TypedPoolJob<T: Sendable>: PoolJob, @unchecked Sendable {
    /// Dropped once run, so a finished job keeps nothing of the caller alive.
    @usableFromInline var body: (@Sendable () throws -> T)?
    /// Completed on its loop; `file:line` name the submission in the loop's
    /// slow-callback reports.
    @usableFromInline var future: Future<T>?
    @usableFromInline let file: StaticString
    @usableFromInline let line: UInt
    /// Resumes a suspended `run`; set just before admission.
    @usableFromInline var continuation: UnsafeContinuation<T, any Error>?
    @usableFromInline var callback: (@Sendable (Result<T, any Error>) -> Void)?

    /// A job whose outcome completes `future`.
    @inlinable
    init(body: @escaping @Sendable () throws -> T, future: Future<T>, file: StaticString, line: UInt) {
        self.body = body
        self.future = future
        self.file = file
        self.line = line
        super.init(perform: { job, error in unsafeDowncast(job, to: TypedPoolJob<T>.self).runOrFail(error) })
    }

    /// A job whose outcome goes to `continuation` (set before admission) or
    /// to `callback`.
    @inlinable
    init(body: @escaping @Sendable () throws -> T, callback: (@Sendable (Result<T, any Error>) -> Void)? = nil) {
        self.body = body
        self.callback = callback
        self.file = #fileID
        self.line = #line
        super.init(perform: { job, error in unsafeDowncast(job, to: TypedPoolJob<T>.self).runOrFail(error) })
    }

    /// Runs the body and delivers its outcome, or (with an error) delivers
    /// the error without running it.
    @inlinable
    func runOrFail(_ error: (any Error)?) {
        guard let body else { return }
        self.body = nil
        if let error {
            deliver(.failure(error))
        } else {
            deliver(Result { try body() })
        }
    }

    @inlinable
    func deliver(_ result: Result<T, any Error>) {
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
            tsanRelease(self)
            continuation.resume(with: result)
        } else if let callback {
            self.callback = nil
            callback(result)
        }
    }
}
