extension EventLoop {
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
