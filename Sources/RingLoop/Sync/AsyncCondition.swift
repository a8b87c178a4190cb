/// A condition variable over an `AsyncLock`: tasks holding the lock wait for
/// some state to change, and whoever changes it notifies them.
///
/// ```swift
/// let condition = AsyncCondition()            // or AsyncCondition(lock: existing)
/// // consumer
/// try await condition.lock.withLock {
///     try await condition.wait(until: { !items.isEmpty })
///     use(items.removeFirst())
/// }
/// // producer
/// try await condition.lock.withLock {
///     items.append(item)
///     condition.notify()
/// }
/// ```
///
/// `wait()` releases the lock and suspends, as one step: a `notify` that
/// follows the release cannot be missed. The waiter holds the lock again
/// whenever `wait` returns or throws, so `withLock` stays balanced.
///
/// **Fairness.** Waiters are notified in the order they started waiting; a
/// notified waiter joins the lock's queue behind those already waiting for it
/// (it is not woken to find the lock taken).
///
/// **Cancellation.** A waiter whose task is cancelled (or whose deadline
/// passes) leaves the condition's queue in O(1), re-acquires the lock (that
/// wait cannot be cancelled: the caller's `withLock` must find it held), then
/// throws `CancellationError` (or `RingLoopError.timedOut`). It consumes no
/// notification: a `notify()` racing with the cancellation goes to another
/// waiter. A waiter notified, then cancelled before it resumes (re-acquiring
/// the lock, say), also throws `CancellationError` holding the lock, and
/// passes its notification to the next waiter (asyncio's `Condition.wait`
/// does the same; see `WaiterQueue`).
// Safe to share: `waiters` is guarded by the lock's `stateLock`, shared with
// the lock so that releasing it and starting to wait are one atomic step.
public final class AsyncCondition: WaiterOwner, @unchecked Sendable {
    /// The lock every waiter holds around `wait`.
    public let lock: AsyncLock
    @exclusivity(unchecked) private var waiters = WaiterQueue<AsyncLock.Node>(tag: 2)

    @usableFromInline var stateLock: Lock { lock.stateLock }

    /// A condition over `lock` (a new lock by default).
    public init(lock: AsyncLock = AsyncLock()) {
        self.lock = lock
    }

    /// Tasks waiting to be notified (not counting notified ones re-acquiring
    /// the lock; see `lock.waiterCount`).
    package var waiterCount: Int { stateLock.withLock { waiters.count } }

    /// Releases the lock, waits for a notification, and re-acquires the lock.
    /// Call with the lock held. Wakeups may be spurious from the caller's
    /// point of view (another waiter may have consumed the state first):
    /// prefer `wait(until:)`.
    /// - Throws: `RingLoopError.notLocked` if the lock is not held (nothing
    ///   waited); `CancellationError`, `RingLoopError.timedOut`. The lock is
    ///   held again whenever `wait` returns or throws, except for `notLocked`.
    nonisolated(nonsending) public func wait(deadline: Deadline = .distantFuture) async throws {
        try await suspend(AsyncLock.Node(nil), deadline: deadline) { node, wakeups in
            admit(node, &wakeups)
        } handBack: { _ in
            // Notified, lock held again, then cancelled: keep the lock (the
            // caller's `withLock` releases it) but pass the notification on.
            notify(1)
            return true
        }
    }

    /// `wait()` with a timeout.
    nonisolated(nonsending) public func wait(timeout: Duration) async throws {
        try await wait(deadline: .now() + timeout)
    }

    /// Waits (releasing the lock meanwhile) until `predicate` holds. The
    /// predicate runs with the lock held, before the first wait and after
    /// every wakeup. Call with the lock held.
    /// - Throws: as `wait(deadline:)`, or whatever `predicate` throws; the
    ///   deadline bounds the whole call, not each wait.
    nonisolated(nonsending) public func wait(
        until predicate: () throws -> Bool,
        deadline: Deadline = .distantFuture
    ) async throws {
        while try !predicate() {
            try await wait(deadline: deadline)
        }
    }

    /// `wait(until:)`, waiting at most `timeout` in all.
    nonisolated(nonsending) public func wait(
        until predicate: () throws -> Bool,
        timeout: Duration
    ) async throws {
        try await wait(until: predicate, deadline: .now() + timeout)
    }

    /// The future-returning form of `wait(deadline:)`, for callback code that
    /// holds the lock (from `lock.lock(on:)`): the future succeeds, lock held
    /// again, once notified; it fails with `RingLoopError.timedOut` (lock
    /// held again) or `RingLoopError.notLocked` (lock not held: nothing
    /// waited).
    public func wait(on loop: EventLoop, deadline: Deadline = .distantFuture) -> Future<Void> {
        enqueue(AsyncLock.Node(nil), on: loop, deadline: deadline) { node, wakeups in admit(node, &wakeups) }
    }

    /// Wakes up to `count` waiters, longest-waiting first; each returns from
    /// `wait` once it re-acquires the lock. Safe from any thread; usually
    /// called with the lock held, right after changing the state waiters test.
    public func notify(_ count: Int = 1) {
        var wakeups = Wakeups()
        stateLock.lock()
        var remaining = count
        while remaining > 0, let node = waiters.popFirst() {
            lock.acquireLocked(node, into: &wakeups)
            remaining -= 1
        }
        stateLock.unlock()
        wakeups.perform()
    }

    /// Wakes every waiter.
    public func notifyAll() {
        notify(Int.max)
    }

    private func admit(_ node: AsyncLock.Node, _ wakeups: inout Wakeups) -> Admission<Void> {
        guard lock.isLockedLocked else {
            return .completed(.failure(RingLoopError.notLocked(operation: "AsyncCondition.wait")))
        }
        waiters.append(node)
        lock.releaseLocked(into: &wakeups)
        return .queued
    }

    @usableFromInline
    func withdrawLocked(_ node: WaiterNode, reason: WithdrawReason, into wakeups: inout Wakeups) {
        // Already notified (re-acquiring the lock): it returns normally.
        guard waiters.contains(node) else { return }
        waiters.remove(node)
        let node = unsafeDowncast(node, to: AsyncLock.Node.self)
        node.payload = reason.error("AsyncCondition.wait")
        lock.acquireLocked(node, into: &wakeups)
    }
}
