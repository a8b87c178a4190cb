/// Mutual exclusion that the holding task may re-enter: a `lock()` or
/// `withLock` of the same lock, in the task that holds it, at any depth and
/// through any calls, succeeds at once instead of deadlocking (Python's
/// `threading.RLock`, with tasks for threads).
///
/// ```swift
/// let lock = AsyncRecursiveLock()
/// func transfer() async throws {
///     try await lock.withLock {
///         try await audit()        // re-enters: same task
///     }
/// }
/// func audit() async throws {
///     try await lock.withLock { log(balance) }
/// }
/// // Or as a pair, like RLock.acquire()/release():
/// try await lock.lock()
/// defer { try? lock.unlock() }
/// ```
///
/// **Who owns it.** The task that acquired it, until it has called
/// `unlock()` once per `lock()` (a `withLock` is one of each). Only that task
/// re-enters, and only that task may unlock. Child tasks (`async let`, task
/// groups, `Task {}`) are other tasks: they wait like anyone else, so a child
/// that wants the lock while its parent holds it and awaits the child
/// deadlocks, as with a thread-owned recursive mutex. A task must release the
/// lock before it ends (a task is known by its address, which a later task
/// may reuse). Ownership needs a task, so there is no future-returning form.
///
/// **Fairness.** Waiters acquire the lock in arrival order; the owner's last
/// `unlock()` hands it directly to the longest waiter.
///
/// **Cancellation.** A waiter whose task is cancelled throws
/// `CancellationError`, one whose deadline passes throws
/// `RingLoopError.timedOut`; it leaves the queue in O(1) without the lock.
/// One handed the lock whose task is cancelled before it resumes throws
/// `CancellationError` too and passes the lock on (see `WaiterQueue`).
/// Re-entry never waits, so it never throws either.
///
/// **Releasing.** `unlock()` throws `RingLoopError.notLocked` when the
/// calling task does not hold the lock, like every release in RingLoop that
/// can be misused (`AsyncLock.unlock()`, `BoundedAsyncSemaphore.release()`).
// Safe to share: `owner`, `depth` and `waiters` are guarded by `stateLock`.
public final class AsyncRecursiveLock: WaiterOwner, @unchecked Sendable {
    /// A waiter; its payload is its task's identity, the owner once handed
    /// the lock.
    typealias Node = Waiter<Void, UInt>

    @usableFromInline let stateLock = Lock()
    /// The owning task's identity; 0 when free. Invariant: 0 implies
    /// `waiters.isEmpty` and `depth == 0`.
    @exclusivity(unchecked) private var owner: UInt = 0
    /// `lock()`s of the owner not yet matched by an `unlock()`.
    @exclusivity(unchecked) private var depth = 0
    @exclusivity(unchecked) private var waiters = WaiterQueue<Node>(tag: 1)

    /// A new, unlocked lock.
    public init() {}

    /// Whether some task holds the lock (a snapshot).
    public var isLocked: Bool { stateLock.withLock { owner != 0 } }

    /// Whether the calling task holds the lock (Python's `RLock._is_owned`).
    /// False outside any task.
    public var isOwnedByCurrentTask: Bool {
        let task = Self.currentTask()
        return task != 0 && stateLock.withLock { owner == task }
    }

    /// Tasks waiting for the lock.
    package var waiterCount: Int { stateLock.withLock { waiters.count } }

    /// Acquires the lock: at once if the calling task holds it already (one
    /// more level to unlock), else after waiting in line, until `deadline` at
    /// most.
    /// - Throws: `CancellationError`, `RingLoopError.timedOut` while waiting
    ///   (the lock is then not held).
    nonisolated(nonsending) public func lock(deadline: Deadline = .distantFuture) async throws {
        let task = Self.currentTask()
        let acquired: Bool = stateLock.withLock {
            if owner == 0 {
                owner = task
            } else if owner != task {
                return false
            }
            depth += 1
            return true
        }
        if acquired { return }
        try await suspend(Node(task), deadline: deadline) { node, _ in
            if owner == 0 {
                owner = task
                depth = 1
                return .completed(.success(()))
            }
            waiters.append(node)
            return .queued
        } handBack: { _ in
            try? unlock()
            return true
        }
    }

    /// `lock()`, waiting at most `timeout`.
    nonisolated(nonsending) public func lock(timeout: Duration) async throws {
        try await lock(deadline: .now() + timeout)
    }

    /// Releases one level of the calling task's hold; the last one hands the
    /// lock to the longest waiter, or frees it.
    /// - Throws: `RingLoopError.notLocked` if the calling task does not hold
    ///   the lock (nothing changes).
    public func unlock() throws(RingLoopError) {
        let task = Self.currentTask()
        var wakeups = Wakeups()
        stateLock.lock()
        guard owner == task, task != 0 else {
            stateLock.unlock()
            throw .notLocked(operation: "AsyncRecursiveLock.unlock")
        }
        depth -= 1
        if depth == 0 {
            if let next = waiters.popFirst() {
                owner = next.payload
                depth = 1
                next.complete(.success(()), into: &wakeups)
            } else {
                owner = 0
            }
        }
        stateLock.unlock()
        wakeups.perform()
    }

    /// Runs `body` holding the lock: at once if the calling task already holds
    /// it, else after waiting in line, until `deadline` at most.
    /// - Throws: `CancellationError`, `RingLoopError.timedOut` while waiting
    ///   (`body` then does not run); whatever `body` throws.
    nonisolated(nonsending) public func withLock<T>(
        deadline: Deadline = .distantFuture,
        _ body: () async throws -> T
    ) async throws -> T {
        try await lock(deadline: deadline)
        // Balanced by construction: this task took one level just above.
        defer { try? unlock() }
        return try await body()
    }

    /// `withLock`, waiting at most `timeout` for the lock.
    nonisolated(nonsending) public func withLock<T>(
        timeout: Duration,
        _ body: () async throws -> T
    ) async throws -> T {
        try await withLock(deadline: .now() + timeout, body)
    }

    /// The current task's identity: its address, stable while it runs (and a
    /// live task's address is never another live task's); 0 outside a task.
    private static func currentTask() -> UInt {
        withUnsafeCurrentTask { task in
            // `UnsafeCurrentTask` is a single task reference; its bits are the
            // task's address (no retain taken or kept).
            task.map { unsafeBitCast($0, to: UInt.self) } ?? 0
        }
    }

    @usableFromInline
    func withdrawLocked(_ node: WaiterNode, reason: WithdrawReason, into wakeups: inout Wakeups) {
        waiters.remove(node)
        unsafeDowncast(node, to: Node.self).complete(.failure(reason.error("AsyncRecursiveLock.withLock")), into: &wakeups)
    }
}
