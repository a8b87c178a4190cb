import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The shared, locked state of a `ThreadPool`: the bounded queue, the FIFO of
/// admissions waiting for a slot, the running jobs, worker wakeups, and the
/// shutdown phases.
///
/// Loop threads only ever take `lock` for a short, non-blocking critical
/// section (admit, cancel); only worker threads and blocking shutdown callers
/// (never on a loop) wait on the condition variables.
// Safe to share: every mutable field is guarded by `lock` (`queuedCount` is an
// atomic mirror, read without it only as a hint); the condition variables are
// waited on and signalled only with `lock`'s mutex held.
@usableFromInline final class PoolQueue: @unchecked Sendable {
    enum JoinState { case pending, inProgress, done }

    /// Jobs the queue holds before admissions have to wait (or fail).
    let capacity: Int
    /// Held for a few list operations at a time by the submitting threads
    /// and the workers: a contended acquisition spins briefly (bounded)
    /// rather than sleeping at once.
    private let lock = Lock(spinning: true)
    /// Signalled when a job is queued and a worker is idle; broadcast at shutdown.
    private let workAvailable: UnsafeMutablePointer<pthread_cond_t>
    /// Broadcast when the last worker stops and when the workers are joined.
    private let phaseChanged: UnsafeMutablePointer<pthread_cond_t>

    // `@exclusivity(unchecked)` here: every access happens under `lock`, so
    // none can overlap another, and the runtime checks would only cost.
    @exclusivity(unchecked) private var queued = JobList()
    @exclusivity(unchecked) private var waiting = JobList()
    @exclusivity(unchecked) private var running = JobList()
    /// Workers asleep on `workAvailable`, and signals sent to them that no
    /// worker has woken up for yet: a signal is sent only when some sleeper
    /// is not already being woken.
    @exclusivity(unchecked) private var idleWorkers = 0
    @exclusivity(unchecked) private var pendingWakeups = 0
    /// `queued.count`, readable without the lock by a worker spinning briefly
    /// before it sleeps.
    private let queuedCount = Atomic<Int>(0)
    private var liveWorkers: Int
    private var accepting = true
    private var joinState = JoinState.pending
    private var stopWaiters: [@Sendable () -> Void] = []
    private var joinWaiters: [@Sendable () -> Void] = []

    init(capacity: Int, workers: Int) {
        self.capacity = capacity
        self.liveWorkers = workers
        workAvailable = .allocate(capacity: 1)
        phaseChanged = .allocate(capacity: 1)
        pthread_cond_init(workAvailable, nil)
        pthread_cond_init(phaseChanged, nil)
    }

    deinit {
        // Normally empty by now; release the lists' references in any case.
        _ = queued.removeAll()
        _ = waiting.removeAll()
        _ = running.removeAll()
        pthread_cond_destroy(workAvailable)
        pthread_cond_destroy(phaseChanged)
        workAvailable.deallocate()
        phaseChanged.deallocate()
    }

    // MARK: Admission (any thread, never blocks)

    /// Admits `job`: into the queue if it has room and nobody is waiting,
    /// else into the waiter FIFO (`.wait`) or not at all (`.fail`). Returns the
    /// error to fail the job with when it was not admitted; the caller
    /// delivers it, outside the lock.
    @usableFromInline
    func admit(_ job: PoolJob, onFull: ThreadPool.FullQueuePolicy, operation: StaticString) -> (any Error)? {
        lock.lock()
        defer { lock.unlock() }
        return admitLocked(Unmanaged.passRetained(job), onFull: onFull, operation: operation, transferred: false)
    }

    /// `admit(_:onFull:operation:)` for a caller handing over its reference
    /// (`Unmanaged.passRetained` of its last use of the job): an admitted
    /// job's list keeps that reference, so admission touches no reference
    /// count. When it returns an error, the job was not admitted and the
    /// reference is still the caller's.
    @usableFromInline
    func admit(transferring entry: Unmanaged<PoolJob>, onFull: ThreadPool.FullQueuePolicy, operation: StaticString) -> (any Error)? {
        lock.lock()
        defer { lock.unlock() }
        return admitLocked(entry, onFull: onFull, operation: operation, transferred: true)
    }

    /// Admits `jobs` in order under one lock acquisition, waiting for slots
    /// as needed. Returns the jobs refused (shutdown, or cancelled before
    /// admission) with their errors.
    @usableFromInline
    func admit(batch jobs: [PoolJob], operation: StaticString) -> [(PoolJob, any Error)] {
        var refused: [(PoolJob, any Error)] = []
        lock.lock()
        defer { lock.unlock() }
        for job in jobs {
            if let error = admitLocked(Unmanaged.passRetained(job), onFull: .wait, operation: operation, transferred: false) {
                refused.append((job, error))
            }
        }
        return refused
    }

    /// Under the lock. `entry` is a +1 reference that an admitted job's list
    /// keeps; for a refused job it goes back to the caller (`transferred`)
    /// or is released here.
    private func admitLocked(
        _ entry: Unmanaged<PoolJob>, onFull: ThreadPool.FullQueuePolicy, operation: StaticString, transferred: Bool
    ) -> (any Error)? {
        let refusal: (any Error)? = entry._withUnsafeGuaranteedRef { job in
            if job.state == .cancelledEarly {
                job.state = .done
                return CancellationError()
            }
            guard accepting else {
                job.state = .done
                return RingLoopError.shutDown
            }
            if waiting.isEmpty && queued.count < capacity {
                job.state = .queued
                queued.append(transferring: entry)
                queuedCount.store(queued.count, ordering: .relaxed)
                wakeWorkerIfIdle()
                return nil
            }
            switch onFull {
            case .fail:
                job.state = .done
                return RingLoopError.queueFull(operation: "\(operation)", capacity: capacity)
            case .wait:
                job.state = .waiting
                waiting.append(transferring: entry)
                return nil
            }
        }
        guard let error = refusal else { return nil }
        if !transferred { entry.release() }
        return error
    }

    // MARK: Cancellation (any thread, never blocks)

    /// Cancels `job`. Returns true when it was taken out of the queue or the
    /// waiter FIFO before running: the caller then fails it with
    /// `CancellationError` (outside the lock). A running job has its flag set
    /// and finishes on its own; a job not yet admitted is failed by admission.
    @usableFromInline
    func cancel(_ job: PoolJob) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        switch job.state {
        case .new:
            job.state = .cancelledEarly
            return false
        case .waiting:
            waiting.remove(job)
            job.state = .done
            return true
        case .queued:
            queued.remove(job)
            job.state = .done
            promoteWaiter()
            queuedCount.store(queued.count, ordering: .relaxed)
            return true
        case .running:
            job.requestCancellation()
            return false
        case .cancelledEarly, .done:
            return false
        }
    }

    /// Wakes one sleeping worker unless every sleeper is already being woken.
    private func wakeWorkerIfIdle() {
        if idleWorkers > pendingWakeups {
            pendingWakeups += 1
            pthread_cond_signal(workAvailable)
        }
    }

    /// Moves the first waiter into the queue once a slot has freed.
    private func promoteWaiter() {
        guard queued.count < capacity, let next = waiting.popFirstEntry() else { return }
        next._withUnsafeGuaranteedRef { $0.state = .queued }
        queued.append(transferring: next)
    }

    // MARK: Workers

    /// Called by a worker: retires the job it just ran (`previous`, cleared
    /// here) and hands its stored outcome over (outside the lock, before any
    /// sleep), then returns the next job to run, sleeping while there is none.
    /// Returns nil once the pool is shutting down and no work is left; the
    /// last worker to stop then runs the stop waiters.
    ///
    /// The job returned is unmanaged: the running list keeps it alive until
    /// the worker passes it back here as `previous`.
    func next(finishing previous: inout Unmanaged<PoolJob>?) -> Unmanaged<PoolJob>? {
        lock.lock()
        if let entry = previous {
            previous = nil
            // The running list's reference, released once the outcome is
            // handed over.
            let finished = running.removeEntry(entry)
            finished._withUnsafeGuaranteedRef { $0.state = .done }
            if let job = takeQueued() {
                lock.unlock()
                finished._withUnsafeGuaranteedRef { $0.deliverStored() }
                finished.release()
                return job
            }
            lock.unlock()
            finished._withUnsafeGuaranteedRef { $0.deliverStored() }
            finished.release()
            lock.lock()
        }
        var spun = false
        while true {
            if let job = takeQueued() {
                lock.unlock()
                return job
            }
            if !accepting && waiting.isEmpty {
                liveWorkers -= 1
                var waiters: [@Sendable () -> Void] = []
                if liveWorkers == 0 {
                    swap(&waiters, &stopWaiters)
                    pthread_cond_broadcast(phaseChanged)
                }
                lock.unlock()
                for waiter in waiters { waiter() }
                return nil
            }
            if !spun {
                // Work often arrives right behind the last job (a loop
                // submitting a burst): look again for a few microseconds,
                // yielding the core, before paying for a sleep and a wakeup.
                spun = true
                lock.unlock()
                var rounds = 0
                while rounds < PoolQueue.spinRounds && queuedCount.load(ordering: .relaxed) == 0 {
                    sched_yield()
                    rounds += 1
                }
                lock.lock()
                continue
            }
            idleWorkers += 1
            pthread_cond_wait(workAvailable, lock.mutex)
            idleWorkers -= 1
            if pendingWakeups > 0 { pendingWakeups -= 1 }
            spun = false
        }
    }

    /// Under the lock: moves the first queued job to `running`.
    private func takeQueued() -> Unmanaged<PoolJob>? {
        guard let job = queued.popFirstEntry() else { return nil }
        job._withUnsafeGuaranteedRef { $0.state = .running }
        running.append(transferring: job)
        promoteWaiter()
        queuedCount.store(queued.count, ordering: .relaxed)
        // Pass the baton: more work, and a sleeper nobody is waking.
        if !queued.isEmpty { wakeWorkerIfIdle() }
        return job
    }

    /// `sched_yield` rounds an idle worker spends looking for work before it
    /// sleeps.
    static let spinRounds = 16

    // MARK: Shutdown

    /// Stops admissions and wakes every worker so it can stop once the queue
    /// is drained. With `cancellingPending`, also empties the queue and the
    /// waiter FIFO (returned, for the caller to fail outside the lock) and
    /// raises the cancellation flag of every running job. Idempotent; a
    /// cancelling call after a graceful one still cancels what is left.
    func shutdown(cancellingPending: Bool) -> [PoolJob] {
        lock.lock()
        defer { lock.unlock() }
        accepting = false
        var dropped: [PoolJob] = []
        if cancellingPending {
            dropped = queued.removeAll() + waiting.removeAll()
            queuedCount.store(0, ordering: .relaxed)
            for job in dropped { job.state = .done }
            running.forEach { $0.requestCancellation() }
        }
        pthread_cond_broadcast(workAvailable)
        return dropped
    }

    /// Runs `action` once every worker has stopped: at once if they have,
    /// else on the last worker's thread.
    func whenWorkersStopped(_ action: @escaping @Sendable () -> Void) {
        lock.lock()
        if liveWorkers == 0 {
            lock.unlock()
            action()
        } else {
            stopWaiters.append(action)
            lock.unlock()
        }
    }

    /// Blocks the calling (non-loop) thread until every worker has stopped.
    func waitUntilWorkersStopped() {
        lock.lock()
        while liveWorkers > 0 { pthread_cond_wait(phaseChanged, lock.mutex) }
        lock.unlock()
    }

    /// Claims the right to join the worker threads; true for exactly one caller.
    func claimJoin() -> Bool {
        lock.withLock {
            guard joinState == .pending else { return false }
            joinState = .inProgress
            return true
        }
    }

    /// Records that the workers have been joined (or detached) and wakes
    /// everyone waiting for that.
    func finishJoin() {
        let waiters: [@Sendable () -> Void] = lock.withLock {
            joinState = .done
            pthread_cond_broadcast(phaseChanged)
            defer { joinWaiters.removeAll() }
            return joinWaiters
        }
        for waiter in waiters { waiter() }
    }

    /// Runs `action` once the workers are joined (at once if they are).
    func whenJoined(_ action: @escaping @Sendable () -> Void) {
        lock.lock()
        if joinState == .done {
            lock.unlock()
            action()
        } else {
            joinWaiters.append(action)
            lock.unlock()
        }
    }

    /// Blocks the calling (non-loop) thread until the workers are joined.
    func waitUntilJoined() {
        lock.lock()
        while joinState != .done { pthread_cond_wait(phaseChanged, lock.mutex) }
        lock.unlock()
    }

    // MARK: Introspection (tests, diagnostics)

    /// Jobs queued, waiting for a slot, and running; and the workers alive.
    var counts: (queued: Int, waiting: Int, running: Int, liveWorkers: Int) {
        lock.withLock { (queued.count, waiting.count, running.count, liveWorkers) }
    }

    /// Whether new work is still admitted (false once shutdown has begun).
    var isAccepting: Bool { lock.withLock { accepting } }
}
