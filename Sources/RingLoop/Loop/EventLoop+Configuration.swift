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
        /// Where the loop logs.
        public var logger = Logger(label: "ringloop.loop")
        /// The I/O backend; nil (the default) chooses io_uring, or epoll where
        /// io_uring is unavailable, unless `RINGLOOP_BACKEND` names one. See
        /// `EventLoop.Backend`.
        public var backend: Backend?
        package var ringOptions = RingOptions()

        public init() {}
    }
}
