import DequeModule
#if canImport(Glibc)
import Glibc
#endif

/// A few worker threads that run the system calls epoll cannot wait for
/// (file reads and writes, fsync, openat, statx…), like SwiftNIO's
/// `NonBlockingFileIO` and tokio's blocking pool. Each result is handed to
/// `post` on the worker thread; the reactor queues it and wakes its loop.
///
/// **One worker per fd.** The calls on one descriptor go to one worker
/// (`fd % threads`), so they run one at a time, in submission order, while
/// different files proceed in parallel. Besides the order, this keeps
/// sequential reads sequential: procfs and other seq_file pseudo-files
/// restart from the beginning for every read that is not at the position
/// where the last one stopped, so shuffled parallel reads of one such file
/// turn quadratic. Calls without an fd (path operations) go round-robin.
///
/// Threads start on first use, so a loop that never touches a file has none.
/// A queued call can be withdrawn; a running one cannot (its result is posted
/// as usual, as io_uring does for a file read it cannot interrupt). A close
/// of an fd with calls queued or running is queued behind them on the same
/// worker, so they finish on the descriptor they were given.
// Safe to share: `queues`, `threads`, `running`, `runningFD`,
// `nextPathWorker` and `stopping` are guarded by `condition`'s mutex; `post`,
// `limit`, `name` and `cpus` are immutable.
final class BlockingCallPool: @unchecked Sendable {
    struct Job {
        let userData: UInt64
        let fd: Int32
        let call: BlockingCall
    }

    private let limit: Int
    private let name: String
    /// The CPUs the workers run on (checked by the loop before it starts); nil: any.
    private let cpus: [Int]?
    private let post: @Sendable (UInt64, Int32) -> Void
    private let condition = ConditionLock()
    private var queues: [Deque<Job>]
    private var threads: [pthread_t?]
    private var running = 0
    /// The fd of the call each worker is running, if any.
    private var runningFD: [Int32?]
    private var nextPathWorker = 0
    private var stopping = false

    /// `post(userData, result)` receives every result, on a worker thread.
    init(threads limit: Int, name: String, cpus: [Int]? = nil, post: @escaping @Sendable (UInt64, Int32) -> Void) {
        self.limit = max(1, limit)
        self.name = name
        self.cpus = cpus
        self.post = post
        self.queues = Array(repeating: [], count: self.limit)
        self.threads = Array(repeating: nil, count: self.limit)
        self.runningFD = Array(repeating: nil, count: self.limit)
    }

    /// Queues `job` on its fd's worker, starting that worker on first use.
    func enqueue(_ job: Job) {
        let (worker, start): (Int, Bool) = condition.mutate {
            let worker: Int
            if job.fd >= 0 {
                worker = Int(job.fd) % limit
            } else {
                worker = nextPathWorker
                nextPathWorker = (nextPathWorker + 1) % limit
            }
            queues[worker].append(job)
            return (worker, threads[worker] == nil && !stopping)
        }
        if start {
            let thread = Threads.spawn(name: name) { [self] in
                if let cpus { _ = CPUAffinity.restrictCurrentThread(to: cpus) }
                work(worker)
            }
            condition.withLock { threads[worker] = thread }
        }
    }

    /// Queues `job` behind the calls on its fd, if any is queued or running,
    /// so it runs after they finish; false (nothing queued) if there are none.
    /// How a close waits for the file calls already started on its fd.
    func enqueueBehindCalls(_ job: Job) -> Bool {
        guard job.fd >= 0 else { return false }
        return condition.mutate {
            let worker = Int(job.fd) % limit
            guard runningFD[worker] == job.fd || queues[worker].contains(where: { $0.fd == job.fd }) else { return false }
            // The worker exists: it was started for the calls found here.
            queues[worker].append(job)
            return true
        }
    }

    /// Removes a queued job; false if it is running or already done.
    func withdraw(userData: UInt64) -> Bool {
        condition.withLock {
            for worker in queues.indices {
                if let index = queues[worker].firstIndex(where: { $0.userData == userData }) {
                    queues[worker].remove(at: index)
                    return true
                }
            }
            return false
        }
    }

    /// Removes every queued job on `fd`; returns their `userData`.
    func withdrawAll(fd: Int32) -> [UInt64] {
        guard fd >= 0 else { return [] }
        return condition.withLock {
            let worker = Int(fd) % limit
            let matching = queues[worker].filter { $0.fd == fd }.map(\.userData)
            if !matching.isEmpty { queues[worker].removeAll { $0.fd == fd } }
            return matching
        }
    }

    /// Calls queued or running (tests).
    var pending: Int { condition.withLock { queues.reduce(0) { $0 + $1.count } + running } }

    /// Worker threads started so far (tests).
    var threadCount: Int { condition.withLock { threads.count { $0 != nil } } }

    private func work(_ worker: Int) {
        while let job = next(worker) {
            let result = job.call.run()
            post(job.userData, result)
            condition.withLock {
                running -= 1
                runningFD[worker] = nil
            }
        }
    }

    /// The worker's next job, waiting for one; nil once the pool stops.
    private func next(_ worker: Int) -> Job? {
        while true {
            condition.wait { stopping || !queues[worker].isEmpty }
            let (job, stop) = condition.withLock { () -> (Job?, Bool) in
                guard let job = queues[worker].popFirst() else { return (nil, stopping) }
                running += 1
                runningFD[worker] = job.fd
                return (job, false)
            }
            if let job { return job }
            // Withdrawn between the wake-up and here: wait again.
            if stop { return nil }
        }
    }

    /// Stops and joins the workers once the queues are empty (the reactor has
    /// cancelled or reaped every operation before).
    func shutdown() {
        let joining: [pthread_t] = condition.mutate {
            stopping = true
            return threads.compactMap { $0 }
        }
        for thread in joining { Threads.join(thread) }
        condition.withLock { threads = Array(repeating: nil, count: limit) }
    }
}
