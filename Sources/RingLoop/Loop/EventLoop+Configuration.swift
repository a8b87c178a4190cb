import Logging

extension EventLoop {
    /// How a loop is set up.
    public struct Configuration: Sendable {
        /// Thread name (shown by `top -H`, debuggers); 15 bytes at most.
        public var name: String = "ringloop"
        /// io_uring submission queue size.
        public var submissionQueueEntries: UInt32 = 1024
        /// io_uring completion queue size (larger than the SQ).
        public var completionQueueEntries: UInt32 = 8192
        /// Most queued jobs run per tick before the loop looks at I/O again.
        public var maxJobsPerTick: Int = 4096
        /// When set, any callback, job or completion handler running longer
        /// than this is logged at `warning`, naming where it was scheduled
        /// (like asyncio's debug mode). Costs two clock reads per job.
        public var slowCallbackThreshold: Duration?
        /// When set, an idle loop polls for work from other threads for up to
        /// this long before it sleeps (see `EventLoop+Spin.swift`). Off by default.
        public var spinBeforeSleep: Duration?
        /// How much later than its deadline a timer may fire when the loop
        /// sleeps waiting for it, so that timers due close together fire in
        /// one wakeup: 50 µs by default, the timer slack Linux gives every
        /// sleeping call of an ordinary thread (`poll`, `epoll_wait`,
        /// `nanosleep`; io_uring's wait gets none, so the loop adds it).
        /// Timers never fire early. `.zero` wakes at every deadline, which
        /// with dense timers is a wakeup every few of them. A wakeup costs
        /// some 7 µs of CPU on a virtual machine (a sleep through io_uring,
        /// measured in C), so a loop with many timers due far apart in
        /// time spends less with more slack: 1 ms (tokio's and libuv's
        /// timer resolution; `DispatchQueue.asyncAfter` allows at least
        /// that) took a fifth less CPU for a million timers over a second
        /// (`ringloop-micro "1M timers"`). On the epoll
        /// backend the kernel's own slack for the loop's thread comes on top.
        /// A negative value fails the loop's creation with
        /// `RingLoopError.invalidConfiguration`.
        public var timerSlack: Duration = .microseconds(50)
        /// Where the loop logs.
        public var logger = Logger(label: "ringloop.loop")
        /// The I/O backend; nil (the default) chooses io_uring, or epoll where
        /// io_uring is unavailable, unless `RINGLOOP_BACKEND` names one. See
        /// `EventLoop.Backend`.
        public var backend: Backend?
        /// The CPUs the loop's thread may run on (`sched_setaffinity`), e.g.
        /// `[2]` to pin it to CPU 2; nil (the default) leaves placement to the
        /// scheduler. `runOnCurrentThread` applies it to the calling thread.
        /// A list the kernel refuses fails the loop's creation with
        /// `RingLoopError.invalidConfiguration`.
        public var cpuAffinity: [Int]?
        /// The CPUs the kernel-side workers that perform this loop's blocking
        /// operations may run on: io_uring's io-wq workers (buffered writes to
        /// most file systems, and anything else the kernel cannot complete
        /// without blocking; the ring registers their affinity), or the epoll
        /// backend's blocking-call threads. Keeping them off the loop's CPU
        /// (see `cpuAffinity`) lets a file copy use two cores; nil (the
        /// default) leaves placement to the scheduler, which tends to pull a
        /// worker onto the CPU of the loop that wakes it.
        public var kernelWorkerAffinity: [Int]?
        package var ringOptions = RingOptions()

        public init() {}
    }
}

extension EventLoop {
    /// Checks the affinity settings and pins the calling thread (the loop's)
    /// as `cpuAffinity` says. The ring checks `kernelWorkerAffinity` itself
    /// when it registers it; the epoll backend's threads apply it as they
    /// start, so it is checked here against the CPUs this process may use.
    /// The timer slack in nanoseconds, checked.
    static func timerSlackNanoseconds(_ configuration: Configuration) throws(RingLoopError) -> UInt64 {
        let (seconds, attoseconds) = configuration.timerSlack.components
        guard seconds >= 0, attoseconds >= 0 else {
            throw .invalidConfiguration(setting: "timerSlack", reason: "\(configuration.timerSlack) is negative")
        }
        let (nanoseconds, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else {
            throw .invalidConfiguration(setting: "timerSlack", reason: "\(configuration.timerSlack) is too long")
        }
        return nanoseconds &+ UInt64(attoseconds / 1_000_000_000)
    }

    static func applyAffinity(_ configuration: Configuration) throws(RingLoopError) {
        if let cpus = configuration.kernelWorkerAffinity {
            if let problem = CPUAffinity.problem(with: cpus) {
                throw .invalidConfiguration(setting: "kernelWorkerAffinity", reason: problem)
            }
            let allowed = System.availableCPUs
            if !allowed.isEmpty, let missing = cpus.first(where: { !allowed.contains($0) }) {
                throw .invalidConfiguration(
                    setting: "kernelWorkerAffinity", reason: "CPU \(missing) is not available to this process (\(allowed))")
            }
        }
        guard let cpus = configuration.cpuAffinity else { return }
        if let problem = CPUAffinity.problem(with: cpus) {
            throw .invalidConfiguration(setting: "cpuAffinity", reason: problem)
        }
        CPUAffinity.recordProcessDefault()
        if let errno = CPUAffinity.restrictCurrentThread(to: cpus) {
            throw .invalidConfiguration(setting: "cpuAffinity", reason: "sched_setaffinity(\(cpus)): \(errno)")
        }
    }
}
