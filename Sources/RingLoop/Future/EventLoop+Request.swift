/// Starts loop-side work (on the loop thread) that reports through `done`
/// exactly once; returns what can cancel it, or nil if it finished already.
typealias RequestStarter<T> = @Sendable (_ done: @escaping (Result<T, any Error>) -> Void) -> LoopCancellable?

/// Connects one loop-side request to a suspended task: the task resumes
/// exactly once, with the request's outcome or, if the task is cancelled
/// first, with `CancellationError`.
// Safe to share: `continuation`, `request` and `cancelled` are touched only on
// the loop thread (both the start and the cancellation hop there).
final class RequestBridge<T: Sendable>: @unchecked Sendable {
    private var continuation: UnsafeContinuation<T, any Error>?
    private var request: LoopCancellable?
    private var cancelled = false

    func begin(_ continuation: UnsafeContinuation<T, any Error>, _ start: RequestStarter<T>) {
        if cancelled {
            continuation.resume(throwing: CancellationError())
            return
        }
        self.continuation = continuation
        let request = start { result in self.resume(result) }
        if self.continuation != nil { self.request = request }
    }

    func cancel() {
        cancelled = true
        guard continuation != nil else { return }
        if let request {
            // Answers through `resume` with CancellationError; the request's
            // memory stays owned by the operation table until the final CQE.
            request.cancel()
        }
        resume(.failure(CancellationError()))
    }

    private func resume(_ result: Result<T, any Error>) {
        guard let continuation else { return }
        self.continuation = nil
        request = nil
        continuation.resume(with: result)
    }
}

extension EventLoop {
    /// Runs `start` on this loop and waits for its outcome, honouring task
    /// cancellation.
    func performRequest<T: Sendable>(_ start: @escaping RequestStarter<T>) async throws -> T {
        try Task.checkCancellation()
        let bridge = RequestBridge<T>()
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<T, any Error>) in
                if inEventLoop {
                    bridge.begin(continuation, start)
                } else {
                    execute { bridge.begin(continuation, start) }
                }
            }
        } onCancel: {
            execute { bridge.cancel() }
        }
    }

    /// Runs `start` on this loop; the future completes with its outcome.
    func futureRequest<T: Sendable>(_ start: @escaping RequestStarter<T>) -> Future<T> {
        let future = Future<T>(eventLoop: self)
        if inEventLoop {
            _ = start { future._setResult($0) }
        } else {
            execute { _ = start { future._setResult($0) } }
        }
        return future
    }
}
