extension EventLoop {
    /// Shuts the loop down: runs the work already queued, fails pending timers
    /// (their futures fail with `RingLoopError.shutDown`), cancels every
    /// in-flight I/O operation and waits for its completion, then closes the
    /// ring. `callback` runs once all of that is done (on the loop thread, or
    /// at once if the loop is already shut down).
    ///
    /// Idempotent and safe from any thread. After it, `submit`/`schedule` and
    /// I/O fail with `RingLoopError.shutDown`.
    public func shutdownGracefully(_ callback: @escaping @Sendable () -> Void) {
        let done: Bool = lock.withLock {
            if shutDownComplete { return true }
            shutdownCallbacks.append(callback)
            shutdownRequested = true
            wakeup.wakeIfSleeping()
            return false
        }
        if done { callback() }
    }

    /// Whether the loop has completely shut down.
    public var isShutDown: Bool { lock.withLock { shutDownComplete } }

    /// Whether a shutdown has been requested (or has finished; a finished
    /// shutdown was requested first): the loop takes no new I/O objects. Safe
    /// from any thread.
    var isShuttingDown: Bool { lock.withLock { shutdownRequested } }

    /// Shuts the loop down and waits for it; see `shutdownGracefully(_:)`.
    public func shutdownGracefully() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            shutdownGracefully { continuation.resume() }
        }
    }

    /// Shuts the loop down, blocking the calling thread until it is done.
    /// - Throws: `RingLoopError.blockingWaitOnEventLoop` on a loop thread.
    public func syncShutdownGracefully() throws(RingLoopError) {
        if CurrentLoop.isLoopThread { throw .blockingWaitOnEventLoop(operation: "syncShutdownGracefully") }
        let done = ConditionLock()
        // `finished` is only touched under `done`'s mutex.
        nonisolated(unsafe) var finished = false
        shutdownGracefully { done.mutate { finished = true } }
        done.wait { finished }
    }
}
