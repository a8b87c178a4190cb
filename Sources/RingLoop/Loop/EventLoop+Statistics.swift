/// Running totals the loop keeps on its own thread: plain integers, bumped
/// once per tick, per reaped batch and per slow callback, so keeping them
/// costs nothing measurable. Read through `EventLoop.statistics()`.
struct LoopCounters {
    var ticks = 0
    var completions = 0
    var slowCallbacks = 0
}

extension EventLoop {
    /// A snapshot of what a loop has done since it started, for dashboards
    /// and for the `RingLoopMetrics` integration.
    ///
    /// The totals only grow (they wrap around at `Int.max`); the gauges
    /// (`operationsInFlight`, `pendingTimers`) are the values at
    /// the moment of the snapshot.
    public struct Statistics: Sendable, Hashable {
        /// Loop iterations (each runs queued work, fires timers, then submits
        /// and waits once).
        public var ticks: Int
        /// io_uring completions (CQEs) dispatched.
        public var completions: Int
        /// `io_uring_enter` calls (submit-and-wait, plus flushes forced by a
        /// full submission queue).
        public var ringEnters: Int
        /// Submission queue entries prepared. `submissions / ringEnters` is
        /// the average batch handed to the kernel per system call.
        public var submissions: Int
        /// Callbacks, jobs and completion handlers that ran longer than
        /// `Configuration.slowCallbackThreshold` (always 0 when it is unset).
        public var slowCallbacks: Int
        /// I/O operations submitted and not yet completed.
        public var operationsInFlight: Int
        /// Timers waiting to fire (scheduled work, deadlines of waits).
        public var pendingTimers: Int
        /// Times the completion queue overflowed and the kernel was asked to
        /// flush it (a sign the completion queue is too small).
        public var completionQueueOverflows: Int

        /// Submissions per `io_uring_enter` (0 before the first enter).
        public var submissionsPerEnter: Double {
            ringEnters == 0 ? 0 : Double(submissions) / Double(ringEnters)
        }
    }

    /// Takes a snapshot of the loop's statistics on its thread.
    ///
    /// Costs one job on the loop; nothing is counted or kept that the loop
    /// would not keep anyway, so polling is the only price and only callers
    /// pay it.
    ///
    /// - Returns: a future failing with `RingLoopError.shutDown` once the loop
    ///   has shut down.
    ///
    /// ```swift
    /// let stats = try await loop.statistics().get()
    /// print(stats.ticks, stats.operationsInFlight, stats.submissionsPerEnter)
    /// ```
    public func statistics() -> Future<Statistics> {
        submit { self.statisticsOnLoop }
    }

    /// The snapshot, taken on the loop thread.
    var statisticsOnLoop: Statistics {
        preconditionInEventLoop()
        return Statistics(
            ticks: counters.ticks,
            completions: counters.completions,
            ringEnters: ringEnterCount,
            submissions: submissionCount,
            slowCallbacks: counters.slowCallbacks,
            operationsInFlight: backend.liveOperations,
            pendingTimers: pendingTimerCount,
            completionQueueOverflows: ringOverflowFlushes
        )
    }
}
