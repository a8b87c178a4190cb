import Synchronization

/// Mutual exclusion that the holding task may re-enter: a `withLock` nested
/// (at any depth, through any calls) inside another `withLock` of the same
/// lock, in the same task, runs at once instead of deadlocking.
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
/// ```
///
/// **Who owns it.** The lock is owned by the task running the outermost
/// `withLock` body, for the duration of that body. Only that task re-enters.
/// Child tasks (`async let`, task groups, `Task {}`) are other tasks: they
/// wait like anyone else, so a child that wants the lock while its parent
/// holds it and awaits the child deadlocks, as with a thread-owned recursive
/// mutex. Ownership is scoped (there is no `lock()`/`unlock()` pair) and
/// needs a task, so there is no future-returning form.
///
/// **Fairness.** Waiters acquire the lock in arrival order; the outermost
/// `withLock` hands it directly to the longest waiter as it ends.
///
/// **Cancellation.** A waiter whose task is cancelled throws
/// `CancellationError`, one whose deadline passes throws
/// `RingLoopError.timedOut`; it leaves the queue in O(1) without the lock.
/// One handed the lock whose task is cancelled before it resumes throws
/// `CancellationError` too and passes the lock on (see `WaiterQueue`).
/// Re-entry never waits, so it never throws either.
// Safe to share: `owner` and `waiters` are guarded by `stateLock`.
public final class AsyncRecursiveLock: WaiterOwner, @unchecked Sendable {
    /// A waiter; it is handed the owner token of its acquisition.
    typealias Node = Waiter<UInt64, Void>

    @usableFromInline let stateLock = Lock()
    /// Token of the current acquisition; 0 when free. Invariant: 0 implies
    /// `waiters.isEmpty`.
    @exclusivity(unchecked) private var owner: UInt64 = 0
    @exclusivity(unchecked) private var waiters = WaiterQueue<Node>(tag: 1)

    /// Tokens are unique per process, so a task-local record of an
    /// acquisition that has ended (inherited by a child, say) never matches a
    /// later one, even of a lock allocated at the same address.
    private static let tokens = Atomic<UInt64>(0)

    /// A new, unlocked lock.
    public init() {}

    /// Whether some task holds the lock (a snapshot).
    public var isLocked: Bool { stateLock.withLock { owner != 0 } }

    /// Tasks waiting for the lock.
    package var waiterCount: Int { stateLock.withLock { waiters.count } }

    /// Runs `body` holding the lock: at once if the calling task already holds
    /// it, else after waiting in line, until `deadline` at most.
    /// - Throws: `CancellationError`, `RingLoopError.timedOut` while waiting
    ///   (`body` then does not run); whatever `body` throws.
    nonisolated(nonsending) public func withLock<T>(
        deadline: Deadline = .distantFuture,
        _ body: () async throws -> T
    ) async throws -> T {
        let task = Self.currentTask()
        if let held = RecursiveLockOwnership.held, held.holds(self, task: task, current: currentOwner) {
            return try await body()
        }
        let token = try await acquire(deadline: deadline)
        defer { release() }
        let record = RecursiveLockOwnership(lock: ObjectIdentifier(self), token: token, task: task,
                                            next: RecursiveLockOwnership.held)
        return try await RecursiveLockOwnership.$held.withValue(record) {
            try await body()
        }
    }

    /// `withLock`, waiting at most `timeout` for the lock.
    nonisolated(nonsending) public func withLock<T>(
        timeout: Duration,
        _ body: () async throws -> T
    ) async throws -> T {
        try await withLock(deadline: .now() + timeout, body)
    }

    private var currentOwner: UInt64 { stateLock.withLock { owner } }

    /// The current task's identity: its address, stable while it runs (and a
    /// live task's address is never another live task's).
    private static func currentTask() -> UInt {
        withUnsafeCurrentTask { task in
            // `UnsafeCurrentTask` is a single task reference; its bits are the
            // task's address (no retain taken or kept).
            task.map { unsafeBitCast($0, to: UInt.self) } ?? 0
        }
    }

    nonisolated(nonsending) private func acquire(deadline: Deadline) async throws -> UInt64 {
        let token = Self.tokens.add(1, ordering: .relaxed).newValue
        let taken: Bool = stateLock.withLock {
            if owner != 0 { return false }
            owner = token
            return true
        }
        if taken { return token }
        return try await suspend(Node(()), deadline: deadline) { node, _ in
            if owner == 0 {
                owner = token
                return .completed(.success(token))
            }
            waiters.append(node)
            return .queued
        } handBack: { _ in
            release()
            return true
        }
    }

    private func release() {
        var wakeups = Wakeups()
        stateLock.lock()
        if let next = waiters.popFirst() {
            let token = Self.tokens.add(1, ordering: .relaxed).newValue
            owner = token
            next.complete(.success(token), into: &wakeups)
        } else {
            owner = 0
        }
        stateLock.unlock()
        wakeups.perform()
    }

    @usableFromInline
    func withdrawLocked(_ node: WaiterNode, reason: WithdrawReason, into wakeups: inout Wakeups) {
        waiters.remove(node)
        unsafeDowncast(node, to: Node.self).complete(.failure(reason.error), into: &wakeups)
    }
}

/// The recursive locks a task holds: a task-local list, one record per
/// outermost `withLock`. Child tasks inherit the list, which is why a record
/// also names the task that made it.
final class RecursiveLockOwnership: Sendable {
    @TaskLocal static var held: RecursiveLockOwnership?

    let lock: ObjectIdentifier
    let token: UInt64
    let task: UInt
    let next: RecursiveLockOwnership?

    init(lock: ObjectIdentifier, token: UInt64, task: UInt, next: RecursiveLockOwnership?) {
        self.lock = lock
        self.token = token
        self.task = task
        self.next = next
    }

    /// Whether this list records `task` holding `lock` in its current
    /// acquisition (`current`, the lock's owner token).
    func holds(_ lock: AsyncRecursiveLock, task: UInt, current: UInt64) -> Bool {
        let id = ObjectIdentifier(lock)
        var record: RecursiveLockOwnership? = self
        while let entry = record {
            if entry.lock == id { return entry.task == task && entry.token == current }
            record = entry.next
        }
        return false
    }
}
