/// Bridging futures to `async`/`await` and to blocking code.
extension Future {
    /// Waits for the outcome without blocking a thread.
    ///
    /// Cancelling the awaiting task does not cancel the work behind the future
    /// (a future has no owner to tell); cancel that work where it was started.
    @inlinable
    public func get() async throws -> Value {
        if eventLoop.inEventLoop, let result = _result {
            return try result.get()
        }
        defer { tsanAcquire(self) }
        return try await withUnsafeThrowingContinuation { continuation in
            whenComplete {
                tsanRelease(self)
                continuation.resume(with: $0)
            }
        }
    }

    /// Blocks the calling thread until the outcome is known.
    ///
    /// - Throws: `RingLoopError.blockingWaitOnEventLoop` when called on any
    ///   event loop thread (blocking there would stall the loop, or deadlock
    ///   waiting on itself); otherwise the future's error.
    public func wait() throws -> Value {
        if CurrentLoop.isLoopThread {
            throw RingLoopError.blockingWaitOnEventLoop(operation: "Future.wait()")
        }
        let done = ConditionLock()
        nonisolated(unsafe) var outcome: Result<Value, any Error>?
        // `outcome` is written and read only under `done`'s mutex.
        whenComplete { result in done.mutate { outcome = result } }
        done.wait { outcome != nil }
        return try done.withLock { outcome! }.get()
    }
}

extension EventLoop {
    /// A future completed with the outcome of `body`, run as a task on this
    /// loop (it stays on the loop thread across its `await`s).
    public func makeFutureWithTask<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) -> Future<T> {
        let promise = makePromise(of: T.self)
        promise.completeWithTask(body)
        return promise.future
    }
}
