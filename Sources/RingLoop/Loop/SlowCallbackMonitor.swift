import Logging

/// Times the loop's callbacks, jobs, timers and completion handlers, and logs
/// at `warning` those that ran longer than the threshold, naming where they
/// were scheduled (like asyncio's debug mode). Loop thread only.
struct SlowCallbackMonitor {
    let threshold: Duration
    let loopName: String
    let logger: Logger

    /// Logs `what` if it has run longer than the threshold since `start`.
    func report(_ what: @autoclosure () -> String, since start: Deadline) {
        let elapsed = Deadline.now() - start
        if elapsed > threshold {
            logger.warning("slow callback on event loop", metadata: [
                "loop": "\(loopName)", "callback": "\(what())", "elapsed": "\(elapsed)",
            ])
        }
    }
}
