extension ThreadPool {
    /// A snapshot of a pool's load, for dashboards and for the
    /// `RingLoopMetrics` integration.
    public struct Statistics: Sendable, Hashable {
        /// Work items in the bounded queue, not yet started.
        public var queued: Int
        /// Work items parked because the queue was full (waiting for a slot).
        public var waitingForSlot: Int
        /// Work items running now: the busy workers.
        public var running: Int
        /// Worker threads started.
        public var threadCount: Int
        /// Worker threads that have not yet exited (drops to 0 after shutdown).
        public var liveWorkers: Int
        /// The bounded queue's capacity.
        public var queueCapacity: Int

        /// Workers not running anything.
        public var idleWorkers: Int { max(0, liveWorkers - running) }
    }

    /// The pool's load now, read under its lock (safe from any thread, never
    /// blocks for longer than an enqueue does).
    ///
    /// ```swift
    /// let load = pool.statistics
    /// print("\(load.running)/\(load.threadCount) busy, \(load.queued) queued")
    /// ```
    public var statistics: Statistics {
        let counts = queue.counts
        return Statistics(
            queued: counts.queued,
            waitingForSlot: counts.waiting,
            running: counts.running,
            threadCount: threadCount,
            liveWorkers: counts.liveWorkers,
            queueCapacity: queue.capacity
        )
    }
}
