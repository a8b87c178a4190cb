/// Waiting on several futures at once: first completed, and in completion
/// order (Python's `asyncio.wait(..., return_when=FIRST_COMPLETED)` and
/// `asyncio.as_completed`).
extension Future {
    /// One future's outcome, with its position in the array it came from.
    public typealias IndexedResult = (index: Int, result: Result<Value, any Error>)

    /// A future completing with the first of `futures` to complete (success or
    /// failure), and its index: `asyncio.wait(futures, return_when=FIRST_COMPLETED)`.
    ///
    /// The other futures are left alone (nothing is cancelled), as in Python;
    /// their outcomes stay in them. Completes on `loop`. With no futures there
    /// is nothing to wait for: it fails with `RingLoopError.closed` (Python
    /// raises `ValueError`).
    ///
    /// ```swift
    /// let first = try await Future.whenAnyComplete([primary, fallback], on: loop).get()
    /// print("future \(first.index) finished first:", first.result)
    /// ```
    public static func whenAnyComplete(_ futures: [Future<Value>], on loop: EventLoop) -> Future<IndexedResult> {
        let next = Future<IndexedResult>(eventLoop: loop)
        guard !futures.isEmpty else {
            next._complete(.failure(RingLoopError.closed(operation: "Future.whenAnyComplete")))
            return next
        }
        for (index, future) in futures.enumerated() {
            future.hop(to: loop).whenComplete { result in
                next._setResult(.success((index, result)))
            }
        }
        return next
    }

    /// Every outcome of `futures`, in the order they complete, with their
    /// indices: `asyncio.as_completed`.
    ///
    /// The sequence ends after the last one. Abandoning it (or cancelling the
    /// task iterating it) does not cancel the futures' work.
    ///
    /// ```swift
    /// for await (index, result) in Future.inCompletionOrder(downloads) {
    ///     print("download \(index):", result)
    /// }
    /// ```
    public static func inCompletionOrder(_ futures: [Future<Value>]) -> AsyncStream<IndexedResult> {
        let (stream, continuation) = AsyncStream.makeStream(of: IndexedResult.self, bufferingPolicy: .unbounded)
        guard !futures.isEmpty else {
            continuation.finish()
            return stream
        }
        let remaining = LockedValue(futures.count)
        for (index, future) in futures.enumerated() {
            future.whenComplete { result in
                // Yield and count under one lock, so `finish` follows the last
                // yield and the order seen is the order of completion.
                remaining.withLockedValue { count in
                    continuation.yield((index, result))
                    count -= 1
                    if count == 0 { continuation.finish() }
                }
            }
        }
        return stream
    }
}
