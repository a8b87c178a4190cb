/// Splitting a large job into chunks run in parallel on a `ThreadPool`.
extension ThreadPool {
    /// Transforms every element on the pool's workers, in chunks of
    /// contiguous elements, and returns the results in order.
    ///
    /// - Parameters:
    ///   - items: the input; elements are read on worker threads.
    ///   - chunkSize: elements per job; by default the input is cut into about
    ///     four chunks per worker, so uneven chunks still balance.
    ///   - transform: runs once per element, on a worker.
    /// - Throws: the first error a transform throws (the remaining chunks are
    ///   then cancelled: unstarted ones are dropped and running ones stop at
    ///   their next element); `CancellationError` when the task is cancelled;
    ///   `RingLoopError.shutDown` if the pool has shut down. Either way every
    ///   chunk has stopped before this returns.
    ///
    /// Chunks go through the same bounded queue as other work: when it is
    /// full they wait for slots, in order, without blocking a thread.
    ///
    /// ```swift
    /// let hashes = try await pool.parallelMap(blocks) { crc32($0) }
    /// ```
    public func parallelMap<Items: RandomAccessCollection & Sendable, T: Sendable>(
        _ items: Items,
        chunkSize: Int? = nil,
        _ transform: @escaping @Sendable (Items.Element) throws -> T
    ) async throws -> [T] where Items.Index == Int, Items.Element: Sendable {
        let count = items.count
        guard count > 0 else { return [] }
        let size = max(1, chunkSize ?? (count + threadCount * 4 - 1) / (threadCount * 4))
        let start = items.startIndex
        let chunkCount = (count + size - 1) / size
        let collector = ChunkCollector<T>(chunks: chunkCount)
        let jobs: [TypedPoolJob<[T]>] = (0..<chunkCount).map { chunk in
            let lower = start + chunk * size
            let upper = min(lower + size, start + count)
            return TypedPoolJob(body: {
                var out: [T] = []
                out.reserveCapacity(upper - lower)
                for index in lower..<upper {
                    try ThreadPool.checkCancellation()
                    out.append(try transform(items[index]))
                }
                return out
            }, delivery: .callback { collector.store($0, at: chunk) })
        }
        let queue = self.queue
        let cancelAll: @Sendable () -> Void = {
            for job in jobs where queue.cancel(job) { job.abandon(CancellationError()) }
        }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<[T], any Error>) in
                collector.start(continuation, cancelRest: cancelAll)
                for (job, error) in queue.admit(batch: jobs, operation: "ThreadPool.parallelMap") {
                    job.abandon(error)
                }
            }
        } onCancel: {
            cancelAll()
        }
    }
}
