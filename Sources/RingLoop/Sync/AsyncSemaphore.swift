import Synchronization

/// A counting semaphore for async code and loop callbacks: at most `value`
/// holders at a time (connections to a database, requests in flight).
///
/// ```swift
/// let slots = AsyncSemaphore(value: 8)
/// try await slots.withPermit {
///     try await fetch(url)          // at most 8 of these run at once
/// }
/// ```
///
/// `release()`, `tryAcquire()` are safe from any thread; callback code waits
/// with `acquire(on:)`. See `BoundedAsyncSemaphore` for a variant that
/// refuses to be released above its initial value.
///
/// **Fairness.** Permits go to waiters in arrival order: `release()` hands its
/// permit directly to the longest waiter, and `tryAcquire()` fails while
/// anyone waits, so nobody barges and nobody starves.
///
/// **Cancellation.** A waiter whose task is cancelled throws
/// `CancellationError`, one whose deadline passes throws
/// `RingLoopError.timedOut`; it leaves the queue in O(1) and takes no
/// permit. One handed a permit whose task is cancelled before it resumes
/// throws `CancellationError` too, and passes the permit on: a cancelled
/// `withPermit` body never runs (see `WaiterQueue`). A permit that is free is
/// taken without suspending, even by a cancelled task.
// Safe to share: `permits` and `waiters` are guarded by `stateLock`.
public final class AsyncSemaphore: WaiterOwner, @unchecked Sendable {
    typealias Node = Waiter<Void, Void>

    @usableFromInline let stateLock = Lock()
    /// Invariant: `permits > 0` implies `waiters.isEmpty`.
    @exclusivity(unchecked) private var permits: Int {
        didSet { permitsHint.store(permits, ordering: .relaxed) }
    }
    /// `permits` as last written (under `stateLock`), readable without it:
    /// `acquire()` goes straight to waiting when no permit is visibly free,
    /// instead of first taking `stateLock` for a `tryAcquire` bound to fail.
    /// A stale value costs nothing in correctness: waiting re-checks under
    /// the lock and takes a free permit at once.
    @usableFromInline let permitsHint: Atomic<Int>
    /// Most permits it may hold (`BoundedAsyncSemaphore`), or nil.
    private let limit: Int?
    @exclusivity(unchecked) private var waiters = WaiterQueue<Node>(tag: 1)
    /// A node for the next `acquire()` that waits.
    private let spareNode = WaiterCache<Node>()
    /// Whether a waiter node is kept for the next wait (tests).
    var holdsSpareNode: Bool { spareNode.holdsSpare }

    /// A semaphore with `value` permits available (`value >= 0`).
    public convenience init(value: Int) {
        self.init(value: value, limit: nil)
    }

    init(value: Int, limit: Int?) {
        precondition(value >= 0, "AsyncSemaphore: the initial value must not be negative")
        permits = value
        permitsHint = Atomic(value)
        self.limit = limit
    }

    /// Permits free right now (0 while anyone waits).
    public var availablePermits: Int { stateLock.withLock { permits } }

    /// Tasks and futures waiting for a permit.
    package var waiterCount: Int { stateLock.withLock { waiters.count } }

    /// Takes a permit if one is free and nobody waits; returns whether it did.
    public func tryAcquire() -> Bool {
        stateLock.withLock {
            if permits == 0 { return false }
            permits -= 1
            return true
        }
    }

    /// Takes a permit, waiting in line for one.
    /// - Throws: `CancellationError` (no permit taken).
    @inlinable
    nonisolated(nonsending) public func acquire() async throws {
        if permitsHint.load(ordering: .relaxed) > 0, tryAcquire() { return }
        try await acquireSlowly(deadline: .distantFuture)
    }

    /// Takes a permit, waiting at most `timeout`.
    /// - Throws: `RingLoopError.timedOut`, `CancellationError` (no permit taken).
    @inlinable
    nonisolated(nonsending) public func acquire(timeout: Duration) async throws {
        try await acquire(deadline: .now() + timeout)
    }

    /// Takes a permit, waiting until `deadline` at most.
    /// - Throws: `RingLoopError.timedOut`, `CancellationError` (no permit taken).
    @inlinable
    nonisolated(nonsending) public func acquire(deadline: Deadline) async throws {
        if permitsHint.load(ordering: .relaxed) > 0, tryAcquire() { return }
        try await acquireSlowly(deadline: deadline)
    }

    /// Waits in line for a permit (the fast path failed).
    @usableFromInline
    nonisolated(nonsending) func acquireSlowly(deadline: Deadline) async throws {
        try await suspendWithSpare(from: spareNode, orNew: { Node(()) }, deadline: deadline) { node, _ in
            admit(node)
        } handBack: { _ in
            releaseOne()
            return true
        }
    }

    /// The future-returning form of `acquire`: succeeds on `loop` holding a
    /// permit; fails with `RingLoopError.timedOut` at `deadline` (no permit).
    public func acquire(on loop: EventLoop, deadline: Deadline = .distantFuture) -> Future<Void> {
        if tryAcquire() { return loop.makeSucceededFuture(()) }
        return enqueue(Node(()), on: loop, deadline: deadline) { node, _ in admit(node) }
    }

    /// Returns `count` permits, handing each to the longest waiter if any.
    public func release(_ count: Int = 1) {
        if count == 1 {
            releaseOne()
        } else {
            _ = release(count, operation: "AsyncSemaphore.release")
        }
    }

    /// Runs `body` holding a permit, and returns the permit however it ends.
    /// - Throws: `CancellationError`, `RingLoopError.timedOut` while waiting
    ///   (`body` then does not run); whatever `body` throws.
    @inlinable
    nonisolated(nonsending) public func withPermit<T>(
        deadline: Deadline = .distantFuture,
        _ body: () async throws -> T
    ) async throws -> T {
        try await acquire(deadline: deadline)
        defer { releaseHeld() }
        return try await body()
    }

    /// `withPermit`, waiting at most `timeout` for a permit.
    @inlinable
    nonisolated(nonsending) public func withPermit<T>(
        timeout: Duration,
        _ body: () async throws -> T
    ) async throws -> T {
        try await withPermit(deadline: .now() + timeout, body)
    }

    /// Returns the permit of a `withPermit` (never over the limit).
    @usableFromInline
    func releaseHeld() {
        releaseOne()
    }

    /// `release(1, operation:)` without its error: returns one permit, handing
    /// it to the longest waiter if any; returns false (releasing nothing)
    /// when that would exceed the limit. The common release, kept apart from
    /// the general loop: it resumes the waiter directly, specialized, and
    /// carries no operation name or optional error to build and drop.
    @discardableResult
    func releaseOne() -> Bool {
        stateLock.lock()
        if let limit, permits >= limit {
            stateLock.unlock()
            return false
        }
        guard let next = waiters.popFirst() else {
            permits += 1
            stateLock.unlock()
            return true
        }
        next.setOutcome(.success(()))
        stateLock.unlock()
        Unmanaged.passRetained(consume next).resumeAndRelease()
        return true
    }

    /// Returns `count` permits; fails (releasing nothing) when that would
    /// exceed the limit.
    func release(_ count: Int, operation: String) -> RingLoopError? {
        precondition(count >= 0, "AsyncSemaphore: cannot release a negative count")
        stateLock.lock()
        if let limit, count > limit - permits {
            stateLock.unlock()
            return .overReleased(operation: operation)
        }
        // The first waiter is resumed directly (specialized, borrowed), the
        // others (a release of several permits) through `Wakeups`, in order.
        var first: Unmanaged<Node>?
        var wakeups = Wakeups()
        var remaining = count
        if remaining > 0, let node = waiters.popFirst() {
            node.setOutcome(.success(()))
            first = Unmanaged.passRetained(node)
            remaining -= 1
            while remaining > 0, let node = waiters.popFirst() {
                node.setOutcome(.success(()))
                wakeups.append(node)
                remaining -= 1
            }
        }
        // Not `+= 0`: every write of `permits` also stores `permitsHint`.
        if remaining > 0 { permits += remaining }
        stateLock.unlock()
        first?.resumeAndRelease()
        wakeups.perform()
        return nil
    }

    private func admit(_ node: Node) -> Admission<Void> {
        if permits > 0 {
            permits -= 1
            return .completed(.success(()))
        }
        waiters.append(node)
        return .queued
    }

    @usableFromInline
    func withdrawLocked(_ node: WaiterNode, reason: WithdrawReason, into wakeups: inout Wakeups) {
        waiters.remove(node)
        unsafeDowncast(node, to: Node.self).complete(.failure(reason.error("AsyncSemaphore.acquire")), into: &wakeups)
    }
}
