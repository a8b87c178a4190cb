import DequeModule
#if canImport(Glibc)
import Glibc
#endif

/// A few worker threads that run the system calls epoll cannot wait for
/// (file reads and writes, fsync, openat, statx…), like SwiftNIO's
/// `NonBlockingFileIO` and tokio's blocking pool. Each result is handed to
/// `post` on the worker thread; the reactor queues it and wakes its loop.
///
/// Threads start on first use, so a loop that never touches a file has none.
/// A queued call can be withdrawn; a running one cannot (its result is
/// posted as usual, as io_uring does for a file read it cannot interrupt).
// Safe to share: `queue`, `threads`, `idle` and `stopping` are guarded by
// `condition`'s mutex; `post` and `limit` are immutable.
final class BlockingCallPool: @unchecked Sendable {
    struct Job {
        let userData: UInt64
        let fd: Int32
        let call: BlockingCall
    }

    private let limit: Int
    private let name: String
    private let post: @Sendable (UInt64, Int32) -> Void
    private let condition = ConditionLock()
    private var queue: Deque<Job> = []
    private var threads: [pthread_t] = []
    private var idle = 0
    private var running = 0
    private var stopping = false

    /// `post(userData, result)` receives every result, on a worker thread.
    init(threads limit: Int, name: String, post: @escaping @Sendable (UInt64, Int32) -> Void) {
        self.limit = max(1, limit)
        self.name = name
        self.post = post
    }

    /// Queues `job`, starting a worker if none is idle and the limit allows.
    func enqueue(_ job: Job) {
        var start = false
        condition.mutate {
            queue.append(job)
            if idle == 0 && threads.count < limit && !stopping {
                start = true
            }
        }
        if start { startWorker() }
    }

    private func startWorker() {
        let thread = Threads.spawn(name: name) { [self] in work() }
        condition.withLock { threads.append(thread) }
    }

    /// Removes a queued job; false if it is running or already done.
    func withdraw(userData: UInt64) -> Bool {
        condition.withLock {
            guard let index = queue.firstIndex(where: { $0.userData == userData }) else { return false }
            queue.remove(at: index)
            return true
        }
    }

    /// Removes every queued job on `fd`; returns their `userData`.
    func withdrawAll(fd: Int32) -> [UInt64] {
        condition.withLock {
            let matching = queue.filter { $0.fd == fd }.map(\.userData)
            if !matching.isEmpty { queue.removeAll { $0.fd == fd } }
            return matching
        }
    }

    /// Calls queued or running (tests).
    var pending: Int { condition.withLock { queue.count + running } }

    /// Worker threads started so far (tests).
    var threadCount: Int { condition.withLock { threads.count } }

    private func work() {
        while let job = next() {
            let result = job.call.run()
            post(job.userData, result)
            condition.withLock { running -= 1 }
        }
    }

    /// The next job, waiting for one; nil once the pool stops.
    private func next() -> Job? {
        while true {
            condition.withLock { idle += 1 }
            condition.wait { stopping || !queue.isEmpty }
            let (job, stop) = condition.withLock { () -> (Job?, Bool) in
                idle -= 1
                guard let job = queue.popFirst() else { return (nil, stopping) }
                running += 1
                return (job, false)
            }
            if let job { return job }
            if stop { return nil }
        }
    }

    /// Stops and joins the workers once the queue is empty (the reactor has
    /// cancelled or reaped every operation before).
    func shutdown() {
        let joining: [pthread_t] = condition.mutate {
            stopping = true
            return threads
        }
        for thread in joining { Threads.join(thread) }
        condition.withLock { threads.removeAll() }
    }
}
