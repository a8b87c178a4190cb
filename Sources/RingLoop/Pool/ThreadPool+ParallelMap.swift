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
    ///   then cancelled: unstarted ones are dropped and running ones stop
    ///   within 128 elements); `CancellationError` when the task is cancelled;
    ///   `RingLoopError.shutDown` if the pool has shut down. Either way every
    ///   chunk has stopped before this returns.
    ///
    /// Chunks go through the same bounded queue as other work: when it is
    /// full they wait for slots, in order, without blocking a thread.
    ///
    /// ```swift
    /// let hashes = try await pool.parallelMap(blocks) { crc32($0) }
    /// ```
    // Inlinable so the per-element loop is specialized for the caller's
    // types; always inlined so that `fillChunk` below is formed in the
    // caller, where a transform without captures is a known function.
    @inlinable @inline(__always)
    public func parallelMap<Items: RandomAccessCollection & Sendable, T: Sendable>(
        _ items: Items,
        chunkSize: Int? = nil,
        _ transform: @escaping @Sendable (Items.Element) throws -> T
    ) async throws -> [T] where Items.Index == Int, Items.Element: Sendable {
        let count = items.count
        guard count > 0 else { return [] }
        let perWorker = threadCount * 4
        let size = max(1, chunkSize ?? (count + perWorker - 1) / perWorker)
        let output = ChunkOutput<T>(count: count)
        // Captures `transform` and nothing else, so that when the caller's
        // transform is a closure without captures, the optimizer can
        // specialize this closure for it (a closure whose captures are all
        // constants) and inline the transform into the per-element loop:
        // one call per chunk instead of one indirect call per element.
        // (The loop is written out here, not passed to a helper as a closure,
        // so that `transform` is called directly by this closure.)
        // Checks for cancellation every 128 elements; on a throw, what the
        // chunk wrote is deinitialized.
        let fillChunk: @Sendable (ChunkOutput<T>, Items, Range<Int>) throws -> Void = { output, items, range in
            let start = items.startIndex
            let base = output.base
            // Looked up once per chunk (a thread-local read); each check is
            // then one atomic load.
            let job = ThreadPool.runningJob
            var index = range.lowerBound
            do {
                // Blocks of 128 elements, the check before each: the inner
                // loop then has no branch but its own.
                while index < range.upperBound {
                    if let job, job.isCancelled { throw CancellationError() }
                    let blockEnd = min(index &+ 128, range.upperBound)
                    while index < blockEnd {
                        (base + index).initialize(to: try transform(items[start &+ index]))
                        index &+= 1
                    }
                }
            } catch {
                output.discard(range.lowerBound..<index)
                throw error
            }
            output.markFilled(range)
        }
        // Each chunk writes its results in place; the array is built once all
        // have succeeded. On failure, `output` cleans up what was written.
        _ = try await runChunks((count + size - 1) / size) { chunk in
            let lower = chunk * size
            try fillChunk(output, items, lower..<min(lower + size, count))
        }
        return output.takeArray()
    }

    /// Runs `body(0)`, …, `body(count - 1)` as pool jobs and returns their
    /// results in order; see `parallelMap` for errors and cancellation.
    @inlinable
    func runChunks<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T) async throws -> [T] {
        let collector = ChunkCollector<T>(chunks: count)
        let jobs: [TypedPoolJob<T>] = (0..<count).map { chunk in
            TypedPoolJob(body: { try body(chunk) }, callback: { collector.store($0, at: chunk) })
        }
        let queue = self.queue
        defer { tsanAcquire(collector) }
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
