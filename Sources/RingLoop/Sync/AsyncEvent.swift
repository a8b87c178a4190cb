/// A flag that tasks wait on until it is set: "ready", "shutting down",
/// "first result arrived".
///
/// ```swift
/// let ready = AsyncEvent()
/// Task { try await ready.wait(); startServing() }
/// loadConfiguration()
/// ready.set()            // wakes every waiter; later waits return at once
/// ```
///
/// `set()` and `clear()` are safe from any thread (loop callbacks, plain
/// threads); callback code waits with `wait(on:)`.
///
/// **Fairness.** `set()` wakes every waiter, in arrival order. A waiter
/// woken by `set()` returns even if `clear()` follows before it runs: no
/// lost wakeup.
///
/// **Cancellation.** A waiter whose task is cancelled throws
/// `CancellationError`, one whose deadline passes throws
/// `RingLoopError.timedOut`; it leaves the queue in O(1). So does one woken
/// by `set()` whose task is cancelled before it resumes (see `WaiterQueue`).
/// Waiting on a set event returns at once, even in a cancelled task.
// Safe to share: `flag` and `waiters` are guarded by `stateLock`.
public final class AsyncEvent: WaiterOwner, @unchecked Sendable {
    typealias Node = Waiter<Void, Void>

    @usableFromInline let stateLock = Lock()
    /// Invariant: `flag` implies `waiters.isEmpty`.
    @exclusivity(unchecked) private var flag: Bool
    @exclusivity(unchecked) private var waiters = WaiterQueue<Node>(tag: 1)

    /// A new event, clear unless `isSet`.
    public init(isSet: Bool = false) {
        flag = isSet
    }

    /// Whether the event is set (a snapshot).
    public var isSet: Bool { stateLock.withLock { flag } }

    /// Tasks and futures waiting for the event.
    package var waiterCount: Int { stateLock.withLock { waiters.count } }

    /// Sets the event and wakes every waiter. Idempotent.
    public func set() {
        var wakeups = Wakeups()
        stateLock.lock()
        flag = true
        while let node = waiters.popFirst() {
            node.complete(.success(()), into: &wakeups)
        }
        stateLock.unlock()
        wakeups.perform()
    }

    /// Clears the event: later waits suspend until the next `set()`.
    public func clear() {
        stateLock.withLock { flag = false }
    }

    /// Waits until the event is set (returns at once if it is).
    /// - Throws: `CancellationError`; `RingLoopError.timedOut` once
    ///   `deadline` passes.
    @inlinable
    nonisolated(nonsending) public func wait(deadline: Deadline = .distantFuture) async throws {
        if isSet { return }
        try await waitSlowly(deadline: deadline)
    }

    /// Waits for the next `set()` (the fast path found the event clear).
    @usableFromInline
    nonisolated(nonsending) func waitSlowly(deadline: Deadline) async throws {
        try await suspend(Node(()), deadline: deadline) { node, _ in admit(node) } handBack: { _ in true }
    }

    /// Waits at most `timeout` for the event.
    @inlinable
    nonisolated(nonsending) public func wait(timeout: Duration) async throws {
        try await wait(deadline: .now() + timeout)
    }

    /// The future-returning form of `wait`: succeeds on `loop` once the event
    /// is set; fails with `RingLoopError.timedOut` at `deadline`.
    public func wait(on loop: EventLoop, deadline: Deadline = .distantFuture) -> Future<Void> {
        enqueue(Node(()), on: loop, deadline: deadline) { node, _ in admit(node) }
    }

    private func admit(_ node: Node) -> Admission<Void> {
        if flag { return .completed(.success(())) }
        waiters.append(node)
        return .queued
    }

    @usableFromInline
    func withdrawLocked(_ node: WaiterNode, reason: WithdrawReason, into wakeups: inout Wakeups) {
        waiters.remove(node)
        unsafeDowncast(node, to: Node.self).complete(.failure(reason.error("AsyncEvent.wait")), into: &wakeups)
    }
}
