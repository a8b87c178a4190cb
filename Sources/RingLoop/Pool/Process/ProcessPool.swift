#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// A pool of worker processes running registered jobs: Python's
/// `ProcessPoolExecutor` for RingLoop. CPU-bound or crash-prone work runs in
/// other processes; the parent talks to each worker over a socketpair on an
/// event loop, never blocking a thread.
///
/// ```swift
/// // main.swift
/// let square = ProcessPool.Job<Int, Int>(name: "square") { $0 * $0 }
/// ProcessPool.runWorkerIfRequested(serving: [square])   // a worker serves jobs here and exits
///
/// let loop = try EventLoop.spawn()
/// let pool = try ProcessPool(on: loop)                   // one worker per core
/// let nine = try await pool.run(square, 3)
/// await pool.shutdown()
/// ```
///
/// **Workers** are this executable started again with an environment
/// variable set (`runWorkerIfRequested(serving:)` must run first in `main`),
/// or the executable given to `init`, which must call it too. Each has
/// descriptors 0 (`/dev/null`), 1 and 2 (the parent's) and its socket as 3,
/// nothing else. A worker runs one job at a time; jobs go to whichever worker
/// is free, in submission order.
///
/// **Failures** are typed and stay with their job: a job that throws in the
/// worker fails with `ProcessPoolError.remote` (its message); a worker that
/// dies mid-job (abort, `kill -9`, `exit`) fails that job with
/// `.workerDied` (exit code or signal) and is replaced; a job past its
/// `timeout` (or running at its `deadline`) has its worker killed and
/// replaced and fails with `RingLoopError.timedOut(operation:
/// "ProcessPool.run(<job>)")`; one still queued at its deadline never runs.
///
/// **Backpressure and cancellation.** At most `queueCapacity` jobs wait for
/// a worker; `run` suspends while the queue is full. A caller cancelled while
/// its job is queued gets `CancellationError` at once and the job never runs.
/// A caller cancelled while its job runs gets `CancellationError` once the
/// worker running it has been killed and reaped (it is replaced): a job is
/// code in another process, and killing it is the only way to stop it. The
/// job may have had side effects by then.
///
/// **Shutdown.** `shutdown()` runs every queued job, then closes each
/// worker's socket (an idle worker exits 0) and waits until every worker is
/// reaped; `shutdown(cancellingPending: true)` fails queued and running jobs
/// with `RingLoopError.shutDown` and kills the workers. Either way no worker
/// process, zombie or descriptor is left. Jobs run after shutdown fail with
/// `RingLoopError.shutDown`. Shut a pool down before dropping it: until then
/// its workers wait for jobs (a loop that shuts down still kills and reaps
/// them).
public final class ProcessPool: Sendable {
    /// The loop that drives the workers' sockets and exits.
    public let eventLoop: EventLoop
    /// How many worker processes run at once.
    public let workerCount: Int
    /// How many jobs may wait for a worker before `run` suspends.
    public let queueCapacity: Int
    let queue: AsyncQueue<PendingProcessJob>
    private let slots: [ProcessPoolSlot]
    private let drivers: [Task<Void, Never>]

    /// Starts `workerCount` workers.
    ///
    /// - Parameters:
    ///   - workerCount: worker processes (default: one per core).
    ///   - queueCapacity: jobs that may wait for a worker (default: 2 per
    ///     worker); `run` suspends beyond that.
    ///   - executable: the worker executable; nil (default) starts this
    ///     executable again. It must call `runWorkerIfRequested(serving:)`
    ///     first thing in `main`.
    ///   - arguments: arguments for the workers.
    ///   - environment: the workers' environment (the pool adds its variable).
    ///   - loop: the loop that drives the workers.
    /// - Throws: `SubprocessError` or `IOError` if a worker cannot be started
    ///   (the ones already started are killed; the loop reaps them).
    public init(
        workerCount: Int = System.coreCount, queueCapacity: Int? = nil,
        executable: Subprocess.Executable? = nil, arguments: [String] = [],
        environment: Subprocess.Environment = .inherit, on loop: EventLoop
    ) throws {
        self.eventLoop = loop
        self.workerCount = max(1, workerCount)
        self.queueCapacity = max(1, queueCapacity ?? 2 * self.workerCount)
        let queue = AsyncQueue<PendingProcessJob>(capacity: self.queueCapacity)
        self.queue = queue
        let recipe = PoolWorkerRecipe(executable: try executable ?? Self.currentExecutable(), arguments: arguments,
                                      environment: environment, loop: loop)
        let slots = (0..<self.workerCount).map { _ in ProcessPoolSlot(queue: queue, recipe: recipe) }
        do {
            for slot in slots { try slot.startWorker() }
        } catch {
            for slot in slots { slot.abandon() }
            throw error
        }
        self.slots = slots
        self.drivers = slots.map { slot in Task(executorPreference: loop) { await slot.drive() } }
    }

    /// This executable, to start again as a worker.
    private static func currentExecutable() throws -> Subprocess.Executable {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { throw IOError("readlink(/proc/self/exe)", Errno(rawValue: errno)) }
        return .path(FilePath(String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)))
    }

    /// Runs `job` on `input` in a worker and returns its output.
    ///
    /// ```swift
    /// let squares = try await withThrowingTaskGroup(of: Int.self) { group in
    ///     for n in 1...100 { group.addTask { try await pool.run(square, n) } }
    ///     return try await group.reduce(0, +)
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - job: the registered job to run (the worker must serve one of that name).
    ///   - input: the job's input, encoded and sent to the worker.
    ///   - timeout: how long the job may run once a worker has it (nil: no
    ///     limit). Past it the worker is killed and replaced.
    /// - Throws: `ProcessPoolError` (`.remote`, `.workerDied`, `.coding`);
    ///   `RingLoopError.timedOut(operation: "ProcessPool.run(<job>)")` past
    ///   `timeout`; `CancellationError` (see the type's notes: a running job's
    ///   worker is killed); `RingLoopError.shutDown` once the pool shuts down;
    ///   `SubprocessError`/`IOError` if a replacement worker cannot start.
    public func run<Input, Output>(_ job: Job<Input, Output>, _ input: Input, timeout: Duration? = nil) async throws -> Output {
        try await perform(job, input, timeout: timeout, deadline: nil)
    }

    /// Runs `job` on `input` in a worker, finishing by `deadline`: Python's
    /// `pool.apply_async(f, (x,)).get(timeout)`, except that the job is
    /// stopped too.
    ///
    /// The deadline covers the whole call, unlike `run(_:_:timeout:)`'s
    /// limit on the running time: a job still waiting for room in the queue
    /// or for a worker at `deadline` never runs; one running then has its
    /// worker killed and replaced. Either way the call throws
    /// `RingLoopError.timedOut(operation: "ProcessPool.run(<job>)")`.
    /// - Throws: as `run(_:_:timeout:)`.
    public func run<Input, Output>(_ job: Job<Input, Output>, _ input: Input, deadline: Deadline) async throws -> Output {
        try await perform(job, input, timeout: nil, deadline: deadline)
    }

    private func perform<Input, Output>(
        _ job: Job<Input, Output>, _ input: Input, timeout: Duration?, deadline: Deadline?
    ) async throws -> Output {
        let pending = PendingProcessJob(name: job.name, request: PoolFrame.request(job: job.name, input: try job.encode(input)),
                                        timeout: timeout)
        let queue = queue
        let expiry = deadline.map { eventLoop.schedule(at: $0) { pending.expire() } }
        defer { expiry?.cancel() }
        let reply = try await withTaskCancellationHandler {
            do {
                try await queue.put(pending, deadline: deadline ?? .distantFuture)
            } catch RingLoopError.closed {
                throw RingLoopError.shutDown
            } catch RingLoopError.timedOut {
                throw pending.timedOutError
            }
            return try await pending.outcome()
        } onCancel: {
            pending.cancel()
        }
        return try job.decode(reply)
    }

    /// Jobs waiting for a worker.
    public var queuedCount: Int { queue.count }

    /// Workers running a job now.
    public var busyWorkerCount: Int { slots.count { $0.isBusy } }

    /// The pids of the running workers (a dead one is absent until replaced).
    public var workerPIDs: [pid_t] { slots.compactMap(\.workerPID) }

    /// Finishes every queued job, then stops the workers and waits until
    /// each has been reaped. `run` fails with `RingLoopError.shutDown` from
    /// the start of the call.
    public func shutdown() async {
        queue.close()
        for driver in drivers { await driver.value }
    }

    /// Shuts down; with `cancellingPending`, queued and running jobs fail
    /// with `RingLoopError.shutDown` and the workers are killed instead of
    /// being let finish.
    public func shutdown(cancellingPending: Bool) async {
        guard cancellingPending else { return await shutdown() }
        queue.close()
        for slot in slots { slot.stop() }
        for driver in drivers { await driver.value }
    }
}
