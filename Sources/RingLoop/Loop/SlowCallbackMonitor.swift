import Logging

/// Times the loop's callbacks, jobs, timers and completion handlers, and logs
/// at `warning` those that ran longer than the threshold, naming where they
/// were scheduled (like asyncio's debug mode). Loop thread only.
struct SlowCallbackMonitor {
    let threshold: Duration
    let loopName: String
    let logger: Logger

    /// Logs `what` if it has run longer than the threshold since `start`;
    /// returns whether it did (the loop counts slow callbacks).
    func report(_ what: @autoclosure () -> String, since start: Deadline) -> Bool {
        let elapsed = Deadline.now() - start
        guard elapsed > threshold else { return false }
        logger.warning("slow callback on event loop", metadata: [
            "loop": "\(loopName)", "callback": "\(what())", "elapsed": "\(elapsed)",
        ])
        return true
    }
}
