import DequeModule
import Logging
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// One thread driving one io_uring: runs callbacks, timers, Swift tasks and the
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
        package var ringOptions = RingOptions()

        public init() {}
    }

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
    }

    /// The loop's name (its thread's name).
    public let name: String
    let configuration: Configuration
    let ring: Ring
    private let wakeupFD: Int32
    /// The wakeup read's target; owned by the loop, freed in deinit (after the
    /// read's final CQE has been reaped).
    private let wakeupBuffer: UnsafeMutablePointer<UInt64>

    // MARK: cross-thread state (guarded by `lock`)
    let lock = Lock()
    var remote: Deque<Work> = []
    private var sleeping = false
    private var wakeupSent = false
    private var acceptingWork = true
    var shutdownRequested = false
    private var shutDownComplete = false
    private var shutdownCallbacks: [@Sendable () -> Void] = []

    // MARK: loop-thread state
    private var local: Deque<Work> = []
    private var timers = TimerWheel(now: .now())
    @usableFromInline private(set) var state: State = .running
    private var wakeupArmed = false
    /// Depth of nested future callbacks; deep chains are trampolined.
    @usableFromInline var callbackDepth = 0
    private let orphanage = Orphanage()
    /// The loop's serial-executor identity (see `LoopSerialExecutor`); owned here.
    let serialExecutor: LoopSerialExecutor
    /// Per-loop objects of the I/O layers; see `LoopAttachment`.
    var attachments: [ObjectIdentifier: any LoopAttachment] = [:]
    /// Running totals read by `statistics()` (see `EventLoop+Statistics.swift`).
    var counters = LoopCounters()

    private init(configuration: Configuration) throws(RingLoopError) {
        self.name = configuration.name
        self.configuration = configuration
        var options = configuration.ringOptions
        options.submissionQueueEntries = configuration.submissionQueueEntries
        options.completionQueueEntries = configuration.completionQueueEntries
        self.ring = try Ring(options: options)
        let fd = makeEventFD()
        guard fd >= 0 else {
            let code = errno
            ring.close()
            throw Ring.unavailableError(code)
        }
        self.wakeupFD = fd
        self.wakeupBuffer = .allocate(capacity: 1)
        wakeupBuffer.initialize(to: 0)
        self.serialExecutor = LoopSerialExecutor()
        serialExecutor.loop = self
    }

    deinit {
        wakeupBuffer.deallocate()
    }

    // MARK: Creating and running

    /// Starts a loop on a new thread it owns. Returns once the ring is set up.
    /// - Throws: `RingLoopError.ioUringUnavailable` when io_uring cannot be used.
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
    /// - Throws: `RingLoopError.ioUringUnavailable` when io_uring cannot be used.
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
            if sleeping && !wakeupSent {
                wakeupSent = true
                // Written under the lock: the eventfd is closed only after
                // `acceptingWork` turns false under this same lock.
                var one: UInt64 = 1
                _ = Glibc.write(wakeupFD, &one, 8)
            }
            return true
        }
        if !accepted { orphanage.run(work, on: self) }
    }

    // MARK: Timers (loop thread)

    /// Schedules `action` at `deadline`; it gets `true` when the timer fires and
    /// `false` when the loop shuts down first. Returns nil once the loop is
    /// closing (the caller fails its work with `.shutDown`).
    func scheduleTimer(at deadline: Deadline, _ action: @escaping (_ fired: Bool) -> Void) -> TimerNode? {
        let node = ClosureTimer(deadline: deadline, action: action)
        return insertTimer(node) ? node : nil
    }

    /// Puts `node` in the timer heap (a node cancelled before it got here is
    /// dropped). Returns false once the loop is closing.
    @usableFromInline
    func insertTimer(_ node: TimerNode) -> Bool {
        preconditionInEventLoop()
        guard state == .running else { return false }
        if node.isLive { timers.insert(node) }
        return true
    }

    /// Cancels a pending timer; returns whether it was still pending (it then
    /// never fires).
    @usableFromInline
    @discardableResult
    func cancelTimer(_ node: TimerNode) -> Bool {
        preconditionInEventLoop()
        return timers.cancel(node)
    }

    /// Pending timers (tests, diagnostics).
    package var pendingTimerCount: Int {
        preconditionInEventLoop()
        return timers.count
    }

    // MARK: The loop

    private func runUntilShutdown() {
        CurrentLoop.set(self)
        if let threshold = configuration.slowCallbackThreshold {
            // Unowned: the ring, and so this closure, lives no longer than the loop.
            ring.invokeHandler = { [unowned self] handler, completion, context in
                let start = Deadline.now()
                handler.completed(completion, context: context)
                reportIfSlow("completion handler \(type(of: handler)) (context \(context))", since: start, threshold: threshold)
            }
        }
        armWakeup()
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

        if state == .closing, local.isEmpty, timers.isEmpty, ring.liveOperations == 0 {
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
            timeout = next > now ? next.uptimeNanoseconds - now.uptimeNanoseconds : 0
        }
        if timeout != 0, let spin = configuration.spinBeforeSleep, spinForRemoteWork(upTo: spin, timeout: timeout) {
            timeout = 0
        }
        var slept = false
        if timeout != 0 {
            lock.withLock {
                if remote.isEmpty && !shutdownRequested {
                    sleeping = true
                    wakeupSent = false
                    slept = true
                } else {
                    timeout = 0
                }
            }
        }
        ring.submitAndWait(timeoutNanoseconds: timeout)
        if slept { lock.withLock { sleeping = false } }
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
        guard let threshold = configuration.slowCallbackThreshold else {
            switch work {
            case let .closure(body, _, _): body()
            case let .job(job): runJob(job)
            case let .taskJob(job): runTaskJob(job)
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
        }
        reportIfSlow(what, since: start, threshold: threshold)
    }

    private func reportIfSlow(_ what: @autoclosure () -> String, since start: Deadline, threshold: Duration) {
        let elapsed = Deadline.now() - start
        if elapsed > threshold {
            counters.slowCallbacks &+= 1
            configuration.logger.warning("slow callback on event loop", metadata: [
                "loop": "\(name)", "callback": "\(what())", "elapsed": "\(elapsed)",
            ])
        }
    }

    @inline(__always)
    func runJob(_ job: UnownedJob) {
        job.runSynchronously(isolatedTo: asUnownedSerialExecutor(), taskExecutor: asUnownedTaskExecutor())
    }

    @inline(__always)
    func runTaskJob(_ job: UnownedJob) {
        job.runSynchronously(on: UnownedTaskExecutor(ordinary: self))
    }

    private func fireDueTimers() {
        guard let first = timers.nextDeadline() else { return }
        let now = Deadline.now()
        guard first <= now else { return }
        // Timers scheduled while firing wait for the next tick, even if due:
        // a timer that reschedules itself at "now" cannot starve the loop.
        let horizon = timers.sequenceHorizon
        while let top = timers.popDue(now: now, horizon: horizon) {
            if let threshold = configuration.slowCallbackThreshold {
                let start = Deadline.now()
                top.fire(true)
                reportIfSlow("timer", since: start, threshold: threshold)
            } else {
                top.fire(true)
            }
        }
    }

    private func reap() {
        counters.completions &+= ring.processCompletions { self.wakeupCompleted() }
    }

    private func armWakeup() {
        wakeupArmed = true
        let fd = wakeupFD
        let buffer = wakeupBuffer
        ring.armWakeup(fd: fd, buffer: buffer)
    }

    private func wakeupCompleted() {
        wakeupArmed = false
        if state != .closed { armWakeup() }
    }

    // MARK: Shutdown

    private func beginClosing() {
        state = .closing
        for node in timers.removeAll() { node.fire(false) }
        ring.beginShutdown()
    }

    /// Runs once the loop is quiescent: reaps the wakeup read, closes the ring
    /// and the eventfd, then hands late work to the post-shutdown executor.
    private func finish() {
        if wakeupArmed {
            ring.cancelWakeup()
            while wakeupArmed {
                ring.submitAndWait(timeoutNanoseconds: nil)
                reap()
            }
        }
        detachAll()
        ring.close()
        Glibc.close(wakeupFD)
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

    /// Shuts the loop down: runs the work already queued, fails pending timers
    /// (their futures fail with `RingLoopError.shutDown`), cancels every
    /// in-flight I/O operation and waits for its completion, then closes the
    /// ring. `callback` runs once all of that is done (on the loop thread, or
    /// at once if the loop is already shut down).
    ///
    /// Idempotent and safe from any thread. After it, `submit`/`schedule` and
    /// I/O fail with `RingLoopError.shutDown`.
    public func shutdownGracefully(_ callback: @escaping @Sendable () -> Void) {
        let done: Bool = lock.withLock {
            if shutDownComplete { return true }
            shutdownCallbacks.append(callback)
            shutdownRequested = true
            if sleeping && !wakeupSent {
                wakeupSent = true
                var one: UInt64 = 1
                _ = Glibc.write(wakeupFD, &one, 8)
            }
            return false
        }
        if done { callback() }
    }

    /// Shuts the loop down and waits for it; see `shutdownGracefully(_:)`.
    public func shutdownGracefully() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            shutdownGracefully { continuation.resume() }
        }
    }

    /// Shuts the loop down, blocking the calling thread until it is done.
    /// - Throws: `RingLoopError.blockingWaitOnEventLoop` on a loop thread.
    public func syncShutdownGracefully() throws(RingLoopError) {
        if CurrentLoop.isLoopThread { throw .blockingWaitOnEventLoop(operation: "syncShutdownGracefully") }
        let done = ConditionLock()
        nonisolated(unsafe) var finished = false
        // `finished` is only touched under `done`'s mutex.
        shutdownGracefully { done.mutate { finished = true } }
        done.wait { finished }
    }

    /// Whether the loop has completely shut down.
    public var isShutDown: Bool { lock.withLock { shutDownComplete } }

    /// Whether a shutdown has been requested (or has finished): the loop takes
    /// no new I/O objects. Safe from any thread.
    var isShuttingDown: Bool { lock.withLock { shutdownRequested || shutDownComplete } }
}

extension EventLoop: CustomStringConvertible {
    public var description: String { "EventLoop(\(name))" }
}

extension EventLoop: Hashable {
    public static func == (lhs: EventLoop, rhs: EventLoop) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

/// Runs a shut-down loop's late work serially on whichever thread submits it,
/// so that continuations and promise completions still happen (with I/O
/// failing with `.shutDown`) instead of hanging forever.
// Safe to share: `queue` and `draining` are guarded by `lock`.
final class Orphanage: @unchecked Sendable {
    private let lock = Lock()
    private var queue: Deque<EventLoop.Work> = []
    private var draining = false

    func run(_ work: EventLoop.Work, on loop: EventLoop) {
        let drain: Bool = lock.withLock {
            queue.append(work)
            if draining { return false }
            draining = true
            return true
        }
        guard drain else { return }
        let previous = CurrentLoop.loop
        CurrentLoop.set(loop)
        defer { CurrentLoop.set(previous) }
        while let next = lock.withLock({ () -> EventLoop.Work? in
            if let next = queue.popFirst() { return next }
            draining = false
            return nil
        }) {
            switch next {
            case let .closure(body, _, _): body()
            case let .job(job): loop.runJob(job)
            case let .taskJob(job): loop.runTaskJob(job)
            }
        }
    }
}
