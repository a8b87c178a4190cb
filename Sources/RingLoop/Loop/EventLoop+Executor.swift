/// `EventLoop` as a Swift concurrency executor.
///
/// - `Task(executorPreference: loop) { … }` runs the task's nonisolated code on
///   the loop thread and resumes it there after every `await` (I/O completions,
///   `Task.yield()`, `Task.sleep`): no hop to the global pool and back.
/// - An actor pins itself to a loop by returning the loop's executor:
///   ```swift
///   actor Session {
///       let loop: EventLoop
///       nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }
///   }
///   ```
///   Its methods then run on the loop thread and may call loop-only APIs.
extension EventLoop: SerialExecutor, TaskExecutor {
    /// Jobs of tasks that prefer this loop (`Task(executorPreference: loop)`).
    /// They run as task-executor jobs, so a task's `await`s that do not
    /// suspend continue inline instead of re-queueing the task.
    public func enqueue(_ job: consuming ExecutorJob) {
        enqueue(.taskJob(UnownedJob(job)))
    }

    /// Actors pinned to the loop get a separate identity (`LoopSerialExecutor`),
    /// so the loop can tell their jobs (which must run isolated to the serial
    /// executor) from the jobs of tasks that merely prefer the loop.
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: serialExecutor)
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    public func isSameExclusiveExecutionContext(other: EventLoop) -> Bool {
        self === other
    }

    public func checkIsolated() {
        precondition(inEventLoop, "RingLoop: expected to run on \(self)")
    }

    public func isIsolatingCurrentContext() -> Bool? {
        inEventLoop
    }
}

extension EventLoop {
    /// Runs `body` as a task on this loop (it stays on the loop thread across
    /// its `await`s) and returns its result. Cancelling the caller cancels the task.
    ///
    /// ```swift
    /// let n = try await loop.run { try await connection.read().count }
    /// ```
    public func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task(executorPreference: self) { try await body() }
        return try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
    }
}

/// The loop's `SerialExecutor` identity, for actors pinned to the loop: their
/// jobs are queued on the loop and run isolated to this executor.
// Safe to share: `loop` is set once, in the loop's initializer, before the
// object is reachable from any other thread, and never changes; the loop owns
// this object, so the unowned reference cannot dangle.
final class LoopSerialExecutor: SerialExecutor, @unchecked Sendable {
    unowned(unsafe) var loop: EventLoop?

    func enqueue(_ job: consuming ExecutorJob) {
        loop?.enqueue(.job(UnownedJob(job)))
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    func isSameExclusiveExecutionContext(other: LoopSerialExecutor) -> Bool {
        self === other
    }

    func checkIsolated() {
        precondition(loop?.inEventLoop == true, "RingLoop: expected to run on the loop's thread")
    }

    func isIsolatingCurrentContext() -> Bool? {
        loop?.inEventLoop ?? false
    }
}

extension EventLoop {
    /// Runs a job isolated to the loop's serial executor.
    @inline(__always)
    func runJob(_ job: UnownedJob) {
        job.runSynchronously(isolatedTo: asUnownedSerialExecutor(), taskExecutor: asUnownedTaskExecutor())
    }

    /// Runs a job of a task that prefers the loop, as a task-executor job.
    @inline(__always)
    func runTaskJob(_ job: UnownedJob) {
        job.runSynchronously(on: UnownedTaskExecutor(ordinary: self))
    }
}
