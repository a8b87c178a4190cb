import Synchronization

/// Mutual exclusion for async code and loop callbacks that suspends instead of
/// blocking a thread.
///
/// ```swift
/// let lock = AsyncLock()
/// let total = try await lock.withLock {
///     balance += 10          // one task at a time in here
///     return balance
/// }
/// ```
///
/// `lock()`/`unlock()` are available for hand-over-hand patterns; the lock is
/// not owned, so any task or thread may unlock it (as with a semaphore of
/// one). From loop callbacks, `lock(on:)` returns a future.
///
/// **Fairness.** Waiters acquire the lock in arrival order. `unlock()` hands
/// the lock directly to the longest waiter, so a newcomer (`lock()` or
/// `tryLock()`) never barges ahead of it and nobody starves.
///
/// **Cancellation.** A waiting `lock()` whose task is cancelled throws
/// `CancellationError`; one whose deadline passes throws
/// `RingLoopError.timedOut`. Either way it leaves the queue in O(1), without
/// the lock, as if it had never asked. A waiter handed the lock whose task is
/// cancelled before it resumes throws `CancellationError` too, and passes the
/// lock on (the rule for every primitive: see `WaiterQueue`). A lock that is
/// free is acquired without suspending, even by a cancelled task.
// Safe to share: `locked` and `waiters` are guarded by `stateLock`.
// `@exclusivity(unchecked)` (here and in the other primitives): the state is
// only touched under `stateLock`, never by overlapping accesses, so dynamic
// exclusivity checks would only cost (a third of an uncontended lock/unlock).
public final class AsyncLock: WaiterOwner, @unchecked Sendable {
    /// A lock waiter. Its payload is the error to throw once it holds the lock
    /// again: set for an `AsyncCondition` waiter cancelled or timed out while
    /// waiting, which must re-acquire the lock before it throws.
    typealias Node = Waiter<Void, (any Error)?>

    @usableFromInline let stateLock = Lock()
    /// Invariant: `!locked` implies `waiters.isEmpty` (a release with
    /// waiters hands the lock over, never frees it).
    @exclusivity(unchecked) private var locked = false {
        didSet { lockedHint.store(locked, ordering: .relaxed) }
    }
    /// `locked` as last written (under `stateLock`), readable without it:
    /// `lock()` goes straight to waiting when the lock is visibly held,
    /// instead of first taking `stateLock` for a `tryLock` bound to fail. A
    /// stale value costs nothing in correctness: waiting re-checks under the
    /// lock and takes a free lock at once.
    @usableFromInline let lockedHint = Atomic<Bool>(false)
    @exclusivity(unchecked) private var waiters = WaiterQueue<Node>(tag: 1)
    /// A node for the next `lock()` that waits (only those: a condition's
    /// nodes carry a payload).
    private let spareNode = WaiterCache<Node>()
    /// Whether a waiter node is kept for the next wait (tests).
    var holdsSpareNode: Bool { spareNode.holdsSpare }

    /// A new, unlocked lock.
    public init() {}

    /// Whether some task holds the lock (a snapshot).
    public var isLocked: Bool { stateLock.withLock { locked } }

    /// Callers waiting for the lock, `AsyncCondition` waiters re-acquiring it
    /// included.
    package var waiterCount: Int { stateLock.withLock { waiters.count } }

    /// Acquires the lock if it is free, without waiting; returns whether it did.
    /// Safe from any thread.
    public func tryLock() -> Bool {
        stateLock.withLock {
            if locked { return false }
            locked = true
            return true
        }
    }

    /// Acquires the lock, waiting in line for it.
    /// - Throws: `CancellationError` if the task is cancelled while waiting
    ///   (the lock is then not held).
    @inlinable
    nonisolated(nonsending) public func lock() async throws {
        if !lockedHint.load(ordering: .relaxed), tryLock() { return }
        try await lockSlowly(deadline: .distantFuture)
    }

    /// Acquires the lock, waiting at most `timeout`.
    /// - Throws: `RingLoopError.timedOut`, or `CancellationError`; in both
    ///   cases the lock is not held.
    @inlinable
    nonisolated(nonsending) public func lock(timeout: Duration) async throws {
        try await lock(deadline: .now() + timeout)
    }

    /// Acquires the lock, waiting until `deadline` at most.
    /// - Throws: `RingLoopError.timedOut`, or `CancellationError`; in both
    ///   cases the lock is not held.
    @inlinable
    nonisolated(nonsending) public func lock(deadline: Deadline) async throws {
        if !lockedHint.load(ordering: .relaxed), tryLock() { return }
        try await lockSlowly(deadline: deadline)
    }

    /// Waits in line for the lock (the fast path failed).
    @usableFromInline
    nonisolated(nonsending) func lockSlowly(deadline: Deadline) async throws {
        try await suspendWithSpare(from: spareNode, orNew: { Node(nil) }, deadline: deadline) { node, _ in
            admit(node)
        } handBack: { _ in
            release()
            return true
        }
    }

    /// Acquires the lock from callback code: the future (on `loop`) succeeds
    /// once the lock is held, or fails with `RingLoopError.timedOut` at
    /// `deadline` (the lock then not held).
    public func lock(on loop: EventLoop, deadline: Deadline = .distantFuture) -> Future<Void> {
        if tryLock() { return loop.makeSucceededFuture(()) }
        return enqueue(Node(nil), on: loop, deadline: deadline) { node, _ in admit(node) }
    }

    /// Releases the lock, handing it to the longest waiter if any. Safe from
    /// any thread.
    /// - Throws: `RingLoopError.notLocked` if the lock is not held.
    public func unlock() throws(RingLoopError) {
        stateLock.lock()
        guard locked else {
            stateLock.unlock()
            throw .notLocked(operation: "AsyncLock.unlock")
        }
        let next = handOffLocked()
        stateLock.unlock()
        next?.resumeAndRelease()
    }

    /// Runs `body` holding the lock, and releases it however `body` ends.
    /// - Throws: `CancellationError` if cancelled while waiting for the lock
    ///   (`body` then does not run); whatever `body` throws.
    @inlinable
    nonisolated(nonsending) public func withLock<T>(_ body: () async throws -> T) async throws -> T {
        try await withLock(deadline: .distantFuture, body)
    }

    /// Runs `body` holding the lock, waiting at most `timeout` for it.
    /// - Throws: `RingLoopError.timedOut` or `CancellationError` while
    ///   waiting (`body` then does not run); whatever `body` throws.
    @inlinable
    nonisolated(nonsending) public func withLock<T>(
        timeout: Duration,
        _ body: () async throws -> T
    ) async throws -> T {
        try await withLock(deadline: .now() + timeout, body)
    }

    /// Runs `body` holding the lock, waiting for it until `deadline` at most.
    /// - Throws: `RingLoopError.timedOut` or `CancellationError` while
    ///   waiting (`body` then does not run); whatever `body` throws.
    @inlinable
    nonisolated(nonsending) public func withLock<T>(
        deadline: Deadline,
        _ body: () async throws -> T
    ) async throws -> T {
        try await lock(deadline: deadline)
        defer { release() }
        return try await body()
    }

    // MARK: Internals (also used by AsyncCondition, under `stateLock`)

    private func admit(_ node: Node) -> Admission<Void> {
        if !locked {
            locked = true
            return .completed(.success(()))
        }
        waiters.append(node)
        return .queued
    }

    /// Releases a lock known to be held (by `withLock`).
    @usableFromInline
    func release() {
        stateLock.lock()
        let next = handOffLocked()
        stateLock.unlock()
        next?.resumeAndRelease()
    }

    /// Gives the lock to `node` if it is free, else queues it (FIFO). The node
    /// then completes holding the lock, with its payload's error if it has one.
    func acquireLocked(_ node: Node, into wakeups: inout Wakeups) {
        if locked {
            waiters.append(node)
        } else {
            locked = true
            node.complete(node.payload.map { .failure($0) } ?? .success(()), into: &wakeups)
        }
    }

    /// Hands the (held) lock to the first waiter, or frees it.
    func releaseLocked(into wakeups: inout Wakeups) {
        if let next = handOffLocked() { wakeups.append(next.takeRetainedValue()) }
    }

    /// Hands the (held) lock to the first waiter and returns it (retained),
    /// to resume (`resumeAndRelease`) once `stateLock` is released; or frees
    /// the lock. The direct, specialized resumption spares `unlock()` the
    /// type-erased `Wakeups` path (an indirect call, and retain/release pairs).
    private func handOffLocked() -> Unmanaged<Node>? {
        guard let next = waiters.popFirst() else {
            locked = false
            return nil
        }
        if let error = next.payload {
            next.setOutcome(.failure(error))
        } else {
            next.setOutcome(.success(()))
        }
        return Unmanaged.passRetained(next)
    }

    /// Whether the lock is held (`stateLock` held).
    var isLockedLocked: Bool { locked }

    @usableFromInline
    func withdrawLocked(_ node: WaiterNode, reason: WithdrawReason, into wakeups: inout Wakeups) {
        // Only `lock()` waiters withdraw through here; a condition waiter that
        // re-acquires the lock belongs to its condition and waits it out.
        guard waiters.contains(node) else { return }
        waiters.remove(node)
        unsafeDowncast(node, to: Node.self).complete(.failure(reason.error("AsyncLock.lock")), into: &wakeups)
    }
}
