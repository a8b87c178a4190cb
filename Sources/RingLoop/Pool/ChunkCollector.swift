/// Gathers the per-chunk outcomes of a `parallelMap` (chunk `i` produces a
/// `T`) and resumes its caller, with the outcomes in chunk order,
/// once every chunk has finished (ran, failed, or was cancelled).
///
/// The first failure wins; it cancels the other chunks (through `cancelRest`,
/// called outside the collector's lock), and the caller is resumed only after
/// the last chunk is accounted for, so no chunk still runs when
/// `parallelMap` returns.
// Safe to share: every mutable field is guarded by `lock`.
@usableFromInline final class ChunkCollector<T: Sendable>: @unchecked Sendable {
    private let lock = Lock()
    private var results: [T?]
    private var remaining: Int
    private var failure: (any Error)?
    private var continuation: UnsafeContinuation<[T], any Error>?
    private var cancelRest: (@Sendable () -> Void)?

    @usableFromInline
    init(chunks: Int) {
        results = Array(repeating: nil, count: chunks)
        remaining = chunks
    }

    /// Installs the continuation to resume and the action cancelling every
    /// chunk; set before any chunk is admitted.
    @usableFromInline
    func start(_ continuation: UnsafeContinuation<[T], any Error>, cancelRest: @escaping @Sendable () -> Void) {
        lock.withLock {
            self.continuation = continuation
            self.cancelRest = cancelRest
        }
    }

    /// Records chunk `index`'s outcome; resumes the caller after the last one.
    @usableFromInline
    func store(_ result: Result<T, any Error>, at index: Int) {
        var cancel: (@Sendable () -> Void)?
        var finish: (UnsafeContinuation<[T], any Error>, Result<[T], any Error>)?
        lock.withLock {
            switch result {
            case let .success(values):
                results[index] = values
            case let .failure(error):
                if failure == nil {
                    failure = error
                    cancel = cancelRest
                    cancelRest = nil
                }
            }
            remaining -= 1
            if remaining == 0, let continuation {
                self.continuation = nil
                cancelRest = nil
                if let failure {
                    finish = (continuation, .failure(failure))
                } else {
                    finish = (continuation, .success(results.compactMap { $0 }))
                    results = []
                }
            }
        }
        cancel?()
        if let (continuation, outcome) = finish {
            tsanRelease(self)
            continuation.resume(with: outcome)
        }
    }
}
