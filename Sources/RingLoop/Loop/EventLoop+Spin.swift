#if canImport(Glibc)
import Glibc
#endif

/// Opt-in spinning before sleep (`Configuration.spinBeforeSleep`).
///
/// Waking a sleeping loop from another thread costs an eventfd write and a
/// thread wakeup; on a VM whose idle vCPUs halt that is about 50 µs, so a
/// cross-loop hand-off (loop A `execute`s on loop B, which answers back) pays
/// it twice. A loop that polls its cross-thread queue for a while before it
/// sleeps catches work that arrives within that window with no wakeup at all,
/// at the price of a core kept busy while the loop is idle: the trade is
/// measured by the "cross-loop hand-off" cases of `ringloop-micro`.
extension EventLoop {
    /// Polls the cross-thread queue for up to `limit` (and no longer than the
    /// loop's own `timeout`, in nanoseconds, if any); returns true as soon as
    /// work or a shutdown request has arrived.
    func spinForRemoteWork(upTo limit: Duration, timeout: UInt64?) -> Bool {
        var budget = UInt64(clamping: max(0, limit.nanoseconds))
        if let timeout { budget = min(budget, timeout) }
        guard budget > 0 else { return false }
        let end = Deadline.now().uptimeNanoseconds &+ budget
        repeat {
            if lock.withLock({ !remote.isEmpty || shutdownRequested }) { return true }
            // Yield rather than burn: with more runnable threads than cores,
            // a pure busy-wait kept the very thread that would send the work
            // off the CPU (hand-offs got 100× slower on a loaded 2-core VM);
            // with a core to spare this returns at once.
            sched_yield()
        } while Deadline.now().uptimeNanoseconds < end
        return false
    }
}
