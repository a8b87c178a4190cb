import DequeModule
import Logging
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// One thread driving one io_uring (or, where io_uring is unavailable, epoll;
/// see `EventLoop.Backend`): runs callbacks, timers, Swift tasks and the
/// completions of I/O operations, all on that thread.
///
/// Create loops through an `EventLoopGroup` (one per core) or on their own:
/// ```swift
/// let loop = try EventLoop.spawn()
/// loop.execute { print("on the loop thread") }
/// let answer = try await loop.submit { 6 * 7 }.get()
/// let value = try await loop.run { try await someAsyncWork() }   // runs on the loop
/// try loop.syncShutdownGracefully()
/// ```
///
/// **Ordering.** Work submitted from one thread runs in submission order.
/// Callbacks never run concurrently with each other.
///
/// **Each tick** runs the queued work (a bounded batch, so I/O is never
/// starved), fires due timers, then submits every SQE prepared during the tick
/// with one `io_uring_submit_and_wait_timeout` call that sleeps until a
/// completion, the next timer, or a cross-thread wakeup, and finally dispatches
/// the completions. Work handed in from other threads goes through a locked
/// queue; the eventfd wakeup is written only when the loop is asleep, so a busy
/// loop is never woken needlessly.
///
/// **Executor.** `EventLoop` is a `SerialExecutor` and a `TaskExecutor`: a task
/// started with `Task(executorPreference: loop)` stays on the loop thread
/// across `await`s, and an actor can pin itself to a loop (see `EventLoop+Executor.swift`).
// Safe to share: the fields under "cross-thread state" are guarded by `lock`;
// everything else mutable is touched only on the loop thread (checked in debug
// builds), or after the loop has closed, by its serial post-shutdown executor.
public final class EventLoop: @unchecked Sendable {
    @usableFromInline enum State { case running, closing, closed }

    enum Work {
        case closure(() -> Void, file: StaticString, line: UInt)
        /// A job isolated to the loop's serial executor (an actor pinned to
        /// the loop, `assumeIsolated` code).
        case job(UnownedJob)
        /// A job of a task that merely prefers the loop (`Task(executorPreference:)`):
        /// run as a task-executor job, so the task's nonisolated `await`s that do
        /// not suspend continue inline instead of re-queueing the task.
        case taskJob(UnownedJob)
        /// An object that runs itself (see `LoopRunnable`); `file:line`
        /// name where it was handed over, for slow-callback reports.
        case runnable(any LoopRunnable, file: StaticString, line: UInt)
    }

    /// The loop's name (its thread's name).
    public let name: String
    let configuration: Configuration
    /// `configuration.timerSlack`, added to every sleep until a timer.
    let timerSlackNanoseconds: UInt64
    /// io_uring or epoll, chosen at start (see `EventLoop.Backend`).
    let backend: LoopBackend
    /// The cross-thread wakeup; its sleeping handshake is guarded by `lock`.
    let wakeup: LoopWakeup
    /// Times callbacks when `slowCallbackThreshold` is set.
    let slowCallbacks: SlowCallbackMonitor?

    // MARK: cross-thread state (guarded by `lock`)
    let lock = Lock()
    var remote: Deque<Work> = []
    private var acceptingWork = true
    var shutdownRequested = false
    var shutDownComplete = false
    var shutdownCallbacks: [@Sendable () -> Void] = []

    // MARK: loop-thread state
    // `local`, `state`, `inlineDepth`, `counters` and `freedBlockMerging` are
    // read or written per operation and per tick, and are
    // `@exclusivity(unchecked)`: only the loop thread touches them, and every
    // access is a plain load or store or one `Deque` call (which never calls
    // out), so no two accesses can overlap.
    @exclusivity(unchecked) private var local: Deque<Work> = []
    /// Pending timers (see `EventLoop+Timers.swift`).
    // Unchecked (the checks were 8% of scheduling and firing a timer): only
    // the loop thread touches it, and no code outside the wheel runs while
    // one of its methods is under way. The one thing a method may release is
    // a cancelled timer's node, and cancelling has already dropped the
    // node's action and completed its future (`EventLoop.cancelTimer`,
    // `ScheduledTimer.cancelOnLoop`): no user code runs from its deinit.
    // Fired timers run after `popDue` has returned.
    @exclusivity(unchecked) var timers = TimerWheel(now: .now())
    /// Counts fired timers to keep glibc's freed blocks merged while warm.
    @exclusivity(unchecked) var freedBlockMerging = FreedBlockMerging()
    @exclusivity(unchecked) @usableFromInline private(set) var state: State = .running
    /// How deeply callbacks run through `runInlineIfShallow` are nested.
    @exclusivity(unchecked) @usableFromInline var inlineDepth = 0
    private let orphanage = Orphanage()
    /// The loop's serial-executor identity (see `LoopSerialExecutor`); owned here.
    let serialExecutor: LoopSerialExecutor
    /// Per-loop objects of the I/O layers; see `LoopAttachment`.
    var attachments: [ObjectIdentifier: any LoopAttachment] = [:]
    /// Running totals read by `statistics()` (see `EventLoop+Statistics.swift`).
    @exclusivity(unchecked) var counters = LoopCounters()

    private init(configuration: Configuration) throws(RingLoopError) {
        self.name = configuration.name
        self.configuration = configuration
        self.timerSlackNanoseconds = try EventLoop.timerSlackNanoseconds(configuration)
        try EventLoop.applyAffinity(configuration)
        var options = configuration.ringOptions
        options.submissionQueueEntries = configuration.submissionQueueEntries
        options.completionQueueEntries = configuration.completionQueueEntries
        options.kernelWorkerCPUs = configuration.kernelWorkerAffinity
        self.backend = try LoopBackend.make(configuration, options: options)
        do {
            self.wakeup = try LoopWakeup()
        } catch {
            backend.close()
            throw error
        }
        self.slowCallbacks = configuration.slowCallbackThreshold.map {
            SlowCallbackMonitor(threshold: $0, loopName: configuration.name, logger: configuration.logger)
        }
        self.serialExecutor = LoopSerialExecutor()
        serialExecutor.loop = self
    }

    // MARK: Creating and running

    /// Starts a loop on a new thread it owns. Returns once the ring is set up.
    /// - Throws: `RingLoopError.ioUringUnavailable` when io_uring was asked for
    ///   (`Configuration.backend`, `RINGLOOP_BACKEND`) and cannot be used;
    ///   `.backendUnavailable` when epoll cannot be set up either.
    public static func spawn(configuration: Configuration = Configuration()) throws(RingLoopError) -> EventLoop {
        let handoff = ConditionLock()
        nonisolated(unsafe) var outcome: Result<EventLoop, RingLoopError>?
        // `outcome` is written by the new thread and read by this one, both
        // under `handoff`'s mutex.
        let thread = Threads.spawn(name: configuration.name) {
            do throws(RingLoopError) {
                let loop = try EventLoop(configuration: configuration)
                handoff.mutate { outcome = .success(loop) }
                loop.runUntilShutdown()
            } catch {
                handoff.mutate { outcome = .failure(error) }
            }
        }
        Threads.detach(thread)
        handoff.wait { outcome != nil }
        return try handoff.withLock { outcome! }.get()
    }

    /// Runs a loop on the calling thread until it shuts down. `body` runs first,
    /// on the loop, to schedule the initial work (and, eventually, a shutdown).
    /// - Throws: `RingLoopError.ioUringUnavailable` when io_uring was asked for
    ///   (`Configuration.backend`, `RINGLOOP_BACKEND`) and cannot be used;
    ///   `.backendUnavailable` when epoll cannot be set up either.
    public static func runOnCurrentThread(
        configuration: Configuration = Configuration(),
        _ body: @escaping (EventLoop) -> Void
    ) throws(RingLoopError) {
        let loop = try EventLoop(configuration: configuration)
        loop.local.append(.closure({ body(loop) }, file: #fileID, line: #line))
        loop.runUntilShutdown()
    }

    /// The loop whose thread is running the caller, if any.
    public static var current: EventLoop? { CurrentLoop.loop }

    /// Whether the caller is running on this loop's thread.
    public var inEventLoop: Bool { CurrentLoop.loop === self }

    /// Traps (in every build) when not on the loop thread: state touched here
    /// is loop-confined.
    @inlinable
    func preconditionInEventLoop(file: StaticString = #fileID, line: UInt = #line) {
        precondition(inEventLoop, "RingLoop: called off the event loop thread", file: file, line: line)
    }

    // MARK: Submitting work

    /// Runs `body` on the loop thread, after the work already queued.
    ///
    /// Safe from any thread. After the loop has shut down, `body` still runs
    /// (serially, on the calling thread) so that no completion is lost, but any
    /// I/O it starts fails with `RingLoopError.shutDown`.
    public func execute(file: StaticString = #fileID, line: UInt = #line, _ body: @escaping @Sendable () -> Void) {
        enqueue(.closure(body, file: file, line: line))
    }

    /// Runs `runnable.runOnLoop()` on the loop thread, after the work already
    /// queued: `execute` without a closure to allocate. Safe from any thread;
    /// after shutdown it runs as `execute` describes.
    @usableFromInline
    func execute(_ runnable: any LoopRunnable, file: StaticString, line: UInt) {
        enqueue(.runnable(runnable, file: file, line: line))
    }

    /// Runs `body` now, nested in the current callback, unless callbacks run
    /// this way are already nested deeply; then returns false without running
    /// it, and the caller queues it (`executeOnLoop`) so a long synchronous
    /// chain cannot overflow the stack. Loop thread only.
    @inlinable
    func runInlineIfShallow(_ body: () -> Void) -> Bool {
        guard inlineDepth < 48 else { return false }
        inlineDepth += 1
        body()
        inlineDepth -= 1
        return true
    }

    /// `execute` for closures that do not cross threads: only on the loop.
    @usableFromInline
    func executeOnLoop(file: StaticString = #fileID, line: UInt = #line, _ body: @escaping () -> Void) {
        preconditionInEventLoop()
        if state != .closed {
            local.append(.closure(body, file: file, line: line))
        } else {
            orphanage.run(.closure(body, file: file, line: line), on: self)
        }
    }

    func enqueue(_ work: Work) {
        if inEventLoop, state != .closed {
            local.append(work)
            return
        }
        let accepted: Bool = lock.withLock {
            guard acceptingWork else { return false }
            remote.append(work)
            // Under the lock: the eventfd is closed only after
            // `acceptingWork` turns false under this same lock.
            wakeup.wakeIfSleeping()
            return true
        }
        if !accepted { orphanage.run(work, on: self) }
    }

    // MARK: The loop

    private func runUntilShutdown() {
        CurrentLoop.set(self)
        if let slowCallbacks {
            // Unowned: the ring, and so this closure, lives no longer than the loop.
            backend.setInvokeHandler { [unowned self] handler, completion, context in
                let start = Deadline.now()
                handler.completed(completion, context: context)
                if slowCallbacks.report("completion handler \(type(of: handler)) (context \(context))", since: start) {
                    counters.slowCallbacks &+= 1
                }
            }
        }
        wakeup.arm(on: backend)
        while tick() {}
        finish()
    }

    /// One iteration; returns false once the loop has closed down.
    private func tick() -> Bool {
        counters.ticks &+= 1
        let stop = takeRemoteWork()
        if stop && state == .running { beginClosing() }

        var budget = configuration.maxJobsPerTick
        while budget > 0, let work = local.popFirst() {
            run(work)
            budget -= 1
        }

        fireDueTimers()

        if state == .closing, local.isEmpty, timers.isEmpty, backend.liveOperations == 0 {
            let quiet = lock.withLock { remote.isEmpty }
            if quiet {
                state = .closed
                return false
            }
        }

        var timeout: UInt64? = nil
        if !local.isEmpty {
            timeout = 0
        } else if let next = timers.nextDeadline() {
            let now = Deadline.now()
            timeout = next > now ? next.uptimeNanoseconds - now.uptimeNanoseconds + timerSlackNanoseconds : 0
        }
        if timeout != 0, let spin = configuration.spinBeforeSleep, spinForRemoteWork(upTo: spin, timeout: timeout) {
            timeout = 0
        }
        var slept = false
        if timeout != 0 {
            lock.withLock {
                if remote.isEmpty && !shutdownRequested {
                    wakeup.willSleep()
                    slept = true
                } else {
                    timeout = 0
                }
            }
        }
        backend.submitAndWait(timeoutNanoseconds: timeout)
        if slept { lock.withLock { wakeup.didWake() } }
        reap()
        return true
    }

    /// Moves cross-thread work into the local queue; returns whether a
    /// shutdown has been requested.
    private func takeRemoteWork() -> Bool {
        lock.withLock {
            if !remote.isEmpty {
                if local.isEmpty {
                    swap(&local, &remote)
                } else {
                    local.append(contentsOf: remote)
                    remote.removeAll(keepingCapacity: true)
                }
            }
            return shutdownRequested
        }
    }

    @inline(__always)
    private func run(_ work: Work) {
        guard let slowCallbacks else {
            switch work {
            case let .closure(body, _, _): body()
            case let .job(job): runJob(job)
            case let .taskJob(job): runTaskJob(job)
            case let .runnable(runnable, _, _): runnable.runOnLoop()
            }
            return
        }
        let start = Deadline.now()
        let what: String
        switch work {
        case let .closure(body, file, line):
            body()
            what = "callback scheduled at \(file):\(line)"
        case let .job(job):
            runJob(job)
            what = "actor job"
        case let .taskJob(job):
            runTaskJob(job)
            what = "task job"
        case let .runnable(runnable, file, line):
            runnable.runOnLoop()
            what = "completion handed over at \(file):\(line)"
        }
        if slowCallbacks.report(what, since: start) { counters.slowCallbacks &+= 1 }
    }

    private func reap() {
        // Handlers run inside `processCompletions`: the count is added after,
        // so no access to `counters` is open while they run.
        let handled = backend.processCompletions {
            self.wakeup.completed(rearmOn: self.state != .closed ? self.backend : nil)
        }
        counters.completions &+= handled
    }

    // MARK: Shutdown

    private func beginClosing() {
        state = .closing
        endPendingTimers()
        backend.beginShutdown()
    }

    /// Runs once the loop is quiescent: reaps the wakeup read, closes the ring
    /// and the eventfd, then hands late work to the post-shutdown executor.
    private func finish() {
        if wakeup.isArmed {
            backend.cancelWakeup()
            while wakeup.isArmed {
                backend.submitAndWait(timeoutNanoseconds: nil)
                reap()
            }
        }
        detachAll()
        backend.close()
        wakeup.close()
        let (leftovers, callbacks) = lock.withLock {
            acceptingWork = false
            shutDownComplete = true
            let leftovers = remote
            remote.removeAll()
            let callbacks = shutdownCallbacks
            shutdownCallbacks.removeAll()
            return (leftovers, callbacks)
        }
        CurrentLoop.set(nil)
        for work in local { orphanage.run(work, on: self) }
        local.removeAll()
        for work in leftovers { orphanage.run(work, on: self) }
        for callback in callbacks { callback() }
    }
}
