/// Waits for `future` from a task that may be cancelled, without cancelling
/// the work behind it: Python's `await asyncio.shield(task)`.
///
/// If the waiting task is cancelled, `shield` throws `CancellationError` at
/// once and the work goes on; its outcome stays in `future`, which can be
/// awaited again (for example by a cleanup path, or after a timeout). Compare
/// `Future.get()`, which also leaves the work alone but keeps waiting until the
/// future completes, cancelled or not.
///
/// To shield async work, start it as a future first:
/// ```swift
/// let commit = loop.makeFutureWithTask { try await database.commit(batch) }
/// do {
///     try await withTimeout(.seconds(1), operation: "commit") { try await shield(commit) }
/// } catch RingLoopError.timedOut {
///     log("commit is slow; it goes on")      // and `commit` still completes
/// }
/// ```
///
/// - Throws: `CancellationError` if the calling task is cancelled first
///   (nothing is consumed: the future keeps its outcome); otherwise what the
///   future fails with.
public func shield<T: Sendable>(_ future: Future<T>) async throws -> T {
    let waiter = ShieldWaiter<T>()
    defer { tsanAcquire(waiter) }
    return try await withTaskCancellationHandler {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<T, any Error>) in
            waiter.install(continuation)
            future.whenComplete { waiter.resume(with: $0) }
        }
    } onCancel: {
        waiter.resume(with: .failure(CancellationError()))
    }
}

/// One waiter of `shield`: resumed exactly once, by the future's outcome or
/// by the cancellation, whichever comes first.
// Safe to share: `state` is only touched under `lock`.
final class ShieldWaiter<T: Sendable>: @unchecked Sendable {
    private enum State {
        case idle
        case waiting(UnsafeContinuation<T, any Error>)
        /// Resumed, or cancelled before the continuation was installed.
        case done
    }

    private let lock = Lock()
    private var state = State.idle

    func install(_ continuation: UnsafeContinuation<T, any Error>) {
        let cancelledEarly: Bool = lock.withLock {
            if case .done = state { return true }
            state = .waiting(continuation)
            return false
        }
        if cancelledEarly {
            tsanRelease(self)
            continuation.resume(throwing: CancellationError())
        }
    }

    func resume(with result: Result<T, any Error>) {
        let continuation: UnsafeContinuation<T, any Error>? = lock.withLock {
            switch state {
            case .idle:
                // Only a cancellation can come this early (the future's
                // callback is registered after `install`): `install` sees it.
                state = .done
                return nil
            case let .waiting(continuation):
                state = .done
                return continuation
            case .done:
                return nil
            }
        }
        guard let continuation else { return }
        tsanRelease(self)
        continuation.resume(with: result)
    }
}
