/// A meeting point for a fixed number of tasks: each `wait()` suspends until
/// `parties` callers have arrived, then all continue together. Reusable: the
/// next `parties` arrivals form the next round.
///
/// ```swift
/// let barrier = AsyncBarrier(parties: 3)
/// try await withThrowingTaskGroup(of: Void.self) { group in
///     for worker in 0..<3 {
///         group.addTask {
///             prepare(worker)
///             let index = try await barrier.wait()   // all 3 prepared here
///             if index == 2 { print("last to arrive") }
///             compute(worker)
///         }
///     }
///     try await group.waitForAll()
/// }
/// ```
///
/// **Fairness.** A round is released as a whole when its last party arrives;
/// `wait()` returns the party's place in the round (0 for the longest
/// waiter, `parties - 1` for the caller that completed it).
///
/// **Cancellation.** A waiter whose task is cancelled throws
/// `CancellationError`, one whose deadline passes throws
/// `RingLoopError.timedOut`; it leaves in O(1) and no longer counts as
/// arrived, so the round still needs `parties` live callers (the barrier is
/// never "broken").
// Safe to share: `waiters` is guarded by `stateLock`.
public final class AsyncBarrier: WaiterOwner, @unchecked Sendable {
    typealias Node = Waiter<Int, Void>

    @usableFromInline let stateLock = Lock()
    /// Callers that have arrived in the current round (one fewer than
    /// `parties` at most).
    @exclusivity(unchecked) private var waiters = WaiterQueue<Node>(tag: 1)

    /// How many callers each round waits for.
    public let parties: Int

    /// A barrier for rounds of `parties` callers (`parties >= 1`).
    public init(parties: Int) {
        precondition(parties >= 1, "AsyncBarrier: parties must be at least 1")
        self.parties = parties
    }

    /// Callers waiting in the current round.
    package var waiterCount: Int { stateLock.withLock { waiters.count } }

    /// Waits until `parties` callers (this one included) have arrived.
    /// - Returns: this caller's place in the round, `0..<parties`.
    /// - Throws: `CancellationError`; `RingLoopError.timedOut` once `deadline`
    ///   passes (the caller then no longer counts as arrived).
    nonisolated(nonsending) public func wait(deadline: Deadline = .distantFuture) async throws -> Int {
        try await suspend(Node(()), deadline: deadline) { node, wakeups in
            admit(node, &wakeups)
        } handBack: { _ in true }
    }

    /// Waits at most `timeout` for the round to complete.
    nonisolated(nonsending) public func wait(timeout: Duration) async throws -> Int {
        try await wait(deadline: .now() + timeout)
    }

    /// The future-returning form of `wait`.
    public func wait(on loop: EventLoop, deadline: Deadline = .distantFuture) -> Future<Int> {
        enqueue(Node(()), on: loop, deadline: deadline) { node, wakeups in admit(node, &wakeups) }
    }

    private func admit(_ node: Node, _ wakeups: inout Wakeups) -> Admission<Int> {
        guard waiters.count + 1 >= parties else {
            waiters.append(node)
            return .queued
        }
        var index = 0
        while let waiter = waiters.popFirst() {
            waiter.complete(.success(index), into: &wakeups)
            index += 1
        }
        return .completed(.success(index))
    }

    @usableFromInline
    func withdrawLocked(_ node: WaiterNode, reason: WithdrawReason, into wakeups: inout Wakeups) {
        waiters.remove(node)
        unsafeDowncast(node, to: Node.self).complete(.failure(reason.error), into: &wakeups)
    }
}
