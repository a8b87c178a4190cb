/// A meeting point for a fixed number of tasks: each `wait()` suspends until
/// `parties` callers have arrived, then all continue together. Reusable: the
/// next `parties` arrivals form the next round. Modelled on Python's
/// `threading.Barrier` (and `asyncio.Barrier`).
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
/// waiter, `parties - 1` for the caller that completed it). The `action`, if
/// any, runs once per round, in the last party's call, before anyone is
/// released.
///
/// **Broken.** The barrier breaks when `abort()` is called, when a waiting
/// party gives up (its task is cancelled: `CancellationError`; its deadline
/// passes: `RingLoopError.timedOut`), or when the action throws (the last
/// party gets the action's error). Every party waiting then throws
/// `BrokenBarrierError`, and so does every later `wait()` until `reset()`.
/// A party that leaves breaks the round rather than leaving the others
/// waiting for a party that will never come (Python's behaviour).
///
/// **Cancellation.** Besides breaking the barrier as above: a party whose
/// round has passed but whose task is cancelled before it resumes throws
/// `CancellationError`; the round stays passed for the others (asyncio's
/// behaviour; see `WaiterQueue`).
// Safe to share: `waiters` and `broken` are guarded by `stateLock`.
public final class AsyncBarrier: WaiterOwner, @unchecked Sendable {
    typealias Node = Waiter<Int, Void>

    @usableFromInline let stateLock = Lock()
    /// Callers that have arrived in the current round (one fewer than
    /// `parties` at most). Invariant: empty while `broken`.
    @exclusivity(unchecked) private var waiters = WaiterQueue<Node>(tag: 1)
    @exclusivity(unchecked) private var broken = false
    /// Runs in the last party's `wait`, under `stateLock`.
    private let action: (@Sendable () throws -> Void)?

    /// How many callers each round waits for.
    public let parties: Int

    /// A barrier for rounds of `parties` callers (`parties >= 1`). `action`,
    /// if given, runs once per round, in the call of the party that completes
    /// it, before the round is released; if it throws, that party gets its
    /// error and the barrier breaks. It runs under the barrier's internal
    /// lock: it must be short and must not use the barrier.
    public init(parties: Int, action: (@Sendable () throws -> Void)? = nil) {
        precondition(parties >= 1, "AsyncBarrier: parties must be at least 1")
        self.parties = parties
        self.action = action
    }

    /// Parties waiting in the current round (a snapshot; Python's
    /// `n_waiting`).
    public var waitingCount: Int { stateLock.withLock { waiters.count } }

    /// Callers waiting in the current round (as `waitingCount`).
    package var waiterCount: Int { waitingCount }

    /// Whether the barrier is broken (a snapshot): every `wait()` fails with
    /// `BrokenBarrierError` until `reset()`.
    public var isBroken: Bool { stateLock.withLock { broken } }

    /// Waits until `parties` callers (this one included) have arrived.
    /// - Returns: this caller's place in the round, `0..<parties`.
    /// - Throws: `BrokenBarrierError` if the barrier is or becomes broken;
    ///   `CancellationError`, `RingLoopError.timedOut` once `deadline` passes
    ///   (either breaks the barrier for the others); the action's error, for
    ///   the party that ran it.
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

    /// Breaks the barrier: every waiting party, and every later `wait()`
    /// until `reset()`, throws `BrokenBarrierError` (Python's `abort()`).
    public func abort() {
        var wakeups = Wakeups()
        stateLock.lock()
        breakLocked(into: &wakeups)
        stateLock.unlock()
        wakeups.perform()
    }

    /// Returns the barrier to its initial state: not broken, no party
    /// arrived. Parties waiting throw `BrokenBarrierError` (Python's
    /// `reset()`).
    public func reset() {
        var wakeups = Wakeups()
        stateLock.lock()
        breakLocked(into: &wakeups)
        broken = false
        stateLock.unlock()
        wakeups.perform()
    }

    private func admit(_ node: Node, _ wakeups: inout Wakeups) -> Admission<Int> {
        if broken { return .completed(.failure(BrokenBarrierError())) }
        guard waiters.count + 1 >= parties else {
            waiters.append(node)
            return .queued
        }
        if let action {
            do {
                try action()
            } catch {
                breakLocked(into: &wakeups)
                return .completed(.failure(error))
            }
        }
        var index = 0
        while let waiter = waiters.popFirst() {
            waiter.complete(.success(index), into: &wakeups)
            index += 1
        }
        return .completed(.success(index))
    }

    /// Marks the barrier broken and fails every waiting party.
    private func breakLocked(into wakeups: inout Wakeups) {
        broken = true
        while let waiter = waiters.popFirst() {
            waiter.complete(.failure(BrokenBarrierError()), into: &wakeups)
        }
    }

    @usableFromInline
    func withdrawLocked(_ node: WaiterNode, reason: WithdrawReason, into wakeups: inout Wakeups) {
        waiters.remove(node)
        unsafeDowncast(node, to: Node.self).complete(.failure(reason.error("AsyncBarrier.wait")), into: &wakeups)
        breakLocked(into: &wakeups)
    }
}
