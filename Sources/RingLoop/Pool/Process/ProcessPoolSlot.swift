#if canImport(Glibc)
import Glibc
#endif

/// One place for a worker in a `ProcessPool`: a driver task on the pool's
/// loop that takes jobs off the queue one at a time and runs each in its
/// worker process, replacing the worker whenever it dies.
///
/// Every way a running job ends early converges on the worker's socket
/// closing: a crash, the deadline's timer, a cancelled caller and a
/// cancelling shutdown all `SIGKILL` the worker, the exchange fails, and the
/// slot reaps the worker and tells the job why (`killReason`, or the status).
// Safe to share: `worker` and `stopping` are guarded by `lock` (shutdown
// reads them from other tasks); everything else is immutable.
final class ProcessPoolSlot: @unchecked Sendable {
    private let queue: AsyncQueue<PendingProcessJob>
    private let recipe: PoolWorkerRecipe
    private let lock = Lock()
    private var worker: PoolWorkerProcess?
    private var stopping = false
    private var busy = false

    init(queue: AsyncQueue<PendingProcessJob>, recipe: PoolWorkerRecipe) {
        self.queue = queue
        self.recipe = recipe
    }

    /// Whether a job is running here (tests).
    var isBusy: Bool { lock.withLock { busy } }

    /// The current worker's pid, if one is running.
    var workerPID: pid_t? { lock.withLock { worker?.pid } }

    /// Starts the worker now rather than at the first job.
    func startWorker() throws {
        let started = try recipe.spawn()
        lock.withLock { worker = started }
    }

    /// Kills the worker without waiting (a pool whose start failed; the
    /// loop reaps it).
    func abandon() {
        let current = lock.withLock { () -> PoolWorkerProcess? in defer { worker = nil }; return worker }
        current?.kill(.shutDown)
        current?.stream.close()
    }

    /// Cancelling shutdown: queued jobs this slot takes fail, the running
    /// one's worker is killed.
    func stop() {
        let running = lock.withLock {
            stopping = true
            return worker
        }
        running?.kill(.shutDown)
    }

    /// Serves jobs until the queue is closed and drained, then retires the
    /// worker (waiting until it is reaped).
    func drive() async {
        while let job = try? await queue.get() {
            if lock.withLock({ stopping }) {
                job.finish(.failure(RingLoopError.shutDown))
                continue
            }
            await serve(job)
        }
        if let worker = lock.withLock({ () -> PoolWorkerProcess? in defer { worker = nil }; return worker }) {
            _ = await worker.retire()
        }
    }

    private func serve(_ job: PendingProcessJob) async {
        let worker: PoolWorkerProcess
        if let current = lock.withLock({ self.worker }) {
            worker = current
        } else {
            do {
                worker = try recipe.spawn()
            } catch {
                job.finish(.failure(error))
                return
            }
            lock.withLock { self.worker = worker }
        }
        guard job.claim(onCancel: { worker.kill(.cancelled) }, onExpire: { worker.kill(.timedOut) }) else { return }
        lock.withLock { busy = true }
        // A stop that came between taking the job and claiming it has not
        // seen this worker's job: honour it here.
        if lock.withLock({ stopping }) { worker.kill(.shutDown) }

        var timer: TimerNode?
        if let timeout = job.timeout {
            timer = recipe.loop.scheduleTimer(at: .now() + timeout) { fired in
                if fired { worker.kill(.timedOut) }
            }
        }
        let reply: [UInt8]
        do {
            reply = try await worker.exchange(job.request)
        } catch {
            if let timer { recipe.loop.cancelTimer(timer) }
            await replace(worker, failing: job)
            return
        }
        if let timer { recipe.loop.cancelTimer(timer) }
        if worker.killReason != nil {
            // Killed after it answered (a deadline or cancel racing the
            // reply): the answer stands, the worker does not.
            lock.withLock { self.worker = nil }
            _ = await worker.reap()
            startReplacement()
        }
        switch reply.first {
        case PoolFrame.success:
            complete(job, .success(Array(reply.dropFirst())))
        case PoolFrame.failure:
            complete(job, .failure(ProcessPoolError.remote(job: job.name, message: String(decoding: reply.dropFirst(), as: UTF8.self))))
        default:
            complete(job, .failure(ProcessPoolError.remote(job: job.name, message: "malformed reply")))
        }
    }

    /// The worker failed mid-job: reap it, fail the job with why it ended,
    /// and start another.
    private func replace(_ worker: PoolWorkerProcess, failing job: PendingProcessJob) async {
        lock.withLock { self.worker = nil }
        let status = await worker.reap()
        let error: any Error
        switch worker.killReason {
        case .timedOut?: error = job.timedOutError
        case .cancelled?: error = CancellationError()
        case .shutDown?: error = RingLoopError.shutDown
        case nil:
            if job.wasCancelled {
                error = CancellationError()
            } else {
                error = ProcessPoolError.workerDied(job: job.name, pid: worker.pid, status: status ?? .signaled(.kill))
            }
        }
        complete(job, .failure(error))
        startReplacement()
    }

    /// Finishes a claimed job; the slot counts as idle before its caller resumes.
    private func complete(_ job: PendingProcessJob, _ outcome: Result<[UInt8], any Error>) {
        lock.withLock { busy = false }
        job.finish(outcome)
    }

    /// Starts a new worker unless the pool is stopping; a failed spawn is
    /// retried at the next job (which then fails with the spawn's error).
    private func startReplacement() {
        guard !lock.withLock({ stopping }), !queue.isClosed else { return }
        try? startWorker()
    }
}
