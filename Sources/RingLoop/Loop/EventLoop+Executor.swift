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
    public func enqueue(_ job: consuming ExecutorJob) {
        enqueue(.job(UnownedJob(job)))
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
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
