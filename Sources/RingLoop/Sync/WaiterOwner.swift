import Synchronization

/// What a primitive decides when a waiter arrives (under its `stateLock`).
@usableFromInline
enum Admission<Value> {
    /// The call completes at once with this outcome (nothing was queued).
    case completed(Result<Value, any Error>)
    /// The waiter was appended to one of the primitive's queues.
    case queued
}

/// A sync primitive built on `WaiterQueue`: one `Lock` guards its state and
/// queues, and it knows how to take back a waiter that gives up.
///
/// The suspension machinery below is shared by every primitive: a waiter is
/// admitted under the lock (completing at once or joining a queue), and a
/// cancellation or timeout withdraws it under the same lock, so a waiter is
/// completed exactly once by whichever comes first: its primitive handing it
/// what it waits for, its task's cancellation, or its deadline.
@usableFromInline
protocol WaiterOwner: AnyObject, Sendable {
    /// Guards the primitive's state and every one of its waiter queues.
    var stateLock: Lock { get }

    /// Takes back a queued waiter (`node.phase == .waiting`) that gives up,
    /// with `stateLock` held: unlinks it, restores the state as if it had
    /// never come (which may let other waiters through) and completes it with
    /// `reason.error` (or, for a condition, starts re-acquiring its lock).
    func withdrawLocked(_ node: WaiterNode, reason: WithdrawReason, into wakeups: inout Wakeups)
}

extension WaiterOwner {
    /// Suspends the calling task on `waiter` until `admit` (run under the
    /// lock) or a later hand-off completes it, the task is cancelled
    /// (`CancellationError`) or `deadline` passes (`RingLoopError.timedOut`).
    ///
    /// A hand-off can beat the cancellation by a hair: the waiter is handed
    /// the lock, permit or item, then its task is cancelled before it runs
    /// again. It must not keep what it was handed (see "Cancellation" in
    /// `WaiterQueue`): once resumed, a cancelled task calls `handBack` with the
    /// value, which passes it on (to the next waiter, or back to the
    /// primitive) and returns true; `suspend` then throws `CancellationError`.
    /// `handBack` returns false for a hand-off that cannot be undone (a put
    /// whose item is in the queue): the call then returns normally, since it
    /// did take effect.
    ///
    /// No executor hop anywhere on this path: `suspend` runs on its caller's
    /// executor (`nonisolated(nonsending)`), and so do the
    /// `_unsafeInheritExecutor_` forms of the cancellation handler and the
    /// continuation. The `isolation:` forms hop to their isolation parameter
    /// and back, and every hop (`swift_task_switch`) of a task that prefers a
    /// loop takes the task's status lock to look up its preference: six hops
    /// per hand-off were two thirds of its cost. Inheriting the executor is
    /// safe here: neither closure touches isolated state (they only take the
    /// primitive's `stateLock`).
    ///
    /// What a suspending wait still costs is mostly the runtime's (perf on
    /// Swift 6.3, two tasks on one loop handing a lock over): two hops remain
    /// (into the handler's operation closure, and back after it), and each
    /// looks up the task's executor preference under the task's status-record
    /// lock, as do resuming the continuation (twice: to drop its dependency
    /// record, to find the executor) and removing the cancellation handler:
    /// five such locks a hand-off, where a continuation awaited without a
    /// handler takes three. The waiter node is reused (`WaiterCache`), so a
    /// hand-off allocates nothing.
    @inlinable
    nonisolated(nonsending) func suspend<Value: Sendable, Payload>(
        _ waiter: Waiter<Value, Payload>,
        deadline: Deadline,
        admit: (Waiter<Value, Payload>, inout Wakeups) -> Admission<Value>,
        handBack: (Value) -> Bool
    ) async throws -> Value {
        defer { tsanAcquire(waiter) }
        let value = try await _unsafeInheritExecutor_withTaskCancellationHandler {
            try await _unsafeInheritExecutor_withUnsafeThrowingContinuation { continuation in
                self.enter(waiter, resumer: .continuation(continuation), deadline: deadline, admit: admit)
            }
        } onCancel: {
            self.abandon(waiter, reason: .cancelled)
        }
        // The handler is removed by now, so a cancellation that came before
        // this task resumed has set the flag, and a later one is not ours.
        if waiter.cancelledAfterCompletion.load(ordering: .acquiring), handBack(value) {
            throw CancellationError()
        }
        return value
    }

    /// `suspend` with the spare node of `cache` (or `newNode()` when there is
    /// none), which goes back to `cache` once the wait is over: the slow path
    /// of `AsyncLock.lock` and `AsyncSemaphore.acquire`. The node is recycled
    /// on each exit, not in a `defer`: handed over, not retained again.
    nonisolated(nonsending) func suspendWithSpare<Value: Sendable, Payload>(
        from cache: borrowing WaiterCache<Waiter<Value, Payload>>,
        orNew newNode: () -> Waiter<Value, Payload>,
        deadline: Deadline,
        admit: (Waiter<Value, Payload>, inout Wakeups) -> Admission<Value>,
        handBack: (Value) -> Bool
    ) async throws -> Value {
        let node = cache.take() ?? newNode()
        let timed = deadline != .distantFuture
        let value: Value
        do {
            value = try await suspend(node, deadline: deadline, admit: admit, handBack: handBack)
        } catch {
            cache.recycle(node, timed: timed)
            throw error
        }
        cache.recycle(node, timed: timed)
        return value
    }

    /// The future-returning form of `suspend`: the future (on `loop`)
    /// completes when the waiter does; it has no cancellation, only `deadline`.
    @inlinable
    func enqueue<Value: Sendable, Payload>(
        _ waiter: Waiter<Value, Payload>,
        on loop: EventLoop,
        deadline: Deadline,
        admit: (Waiter<Value, Payload>, inout Wakeups) -> Admission<Value>
    ) -> Future<Value> {
        let promise = loop.makePromise(of: Value.self)
        enter(waiter, resumer: .promise(promise), deadline: deadline, admit: admit)
        return promise.future
    }

    @inlinable
    func enter<Value: Sendable, Payload>(
        _ waiter: Waiter<Value, Payload>,
        resumer: Waiter<Value, Payload>.Resumer,
        deadline: Deadline,
        admit: (Waiter<Value, Payload>, inout Wakeups) -> Admission<Value>
    ) {
        var wakeups = Wakeups()
        stateLock.lock()
        waiter.setResumer(resumer)
        let cancelledEarly = waiter.phase == .cancelledEarly
        waiter.phase = .admitting
        switch admit(waiter, &wakeups) {
        case let .completed(result):
            waiter.complete(result, into: &wakeups)
        case .queued:
            waiter.phase = .waiting
            if cancelledEarly {
                withdrawLocked(waiter, reason: .cancelled, into: &wakeups)
            } else if deadline != .distantFuture {
                if deadline <= .now() {
                    withdrawLocked(waiter, reason: .timedOut, into: &wakeups)
                } else {
                    // Armed under the lock, so a hand-off right after the
                    // unlock finds the timer and cancels it.
                    waiter.timer = TimeoutTimer.shared.schedule(at: deadline) { [self] in
                        self.abandon(waiter, reason: .timedOut)
                    }
                }
            }
        }
        stateLock.unlock()
        wakeups.perform()
    }

    /// A waiter's task was cancelled or its deadline passed: withdraw it if it
    /// is still waiting. Cancellation before admission is remembered, and
    /// admission then withdraws it.
    @usableFromInline
    func abandon(_ node: WaiterNode, reason: WithdrawReason) {
        var wakeups = Wakeups()
        stateLock.lock()
        switch node.phase {
        case .admitting:
            if case .cancelled = reason { node.phase = .cancelledEarly }
        case .waiting:
            withdrawLocked(node, reason: reason, into: &wakeups)
            // A notified condition waiter re-acquiring its lock cannot be
            // withdrawn: it completes later, already cancelled.
            if node.phase != .done, case .cancelled = reason {
                node.cancelledAfterCompletion.store(true, ordering: .releasing)
            }
        case .done:
            if case .cancelled = reason {
                node.cancelledAfterCompletion.store(true, ordering: .releasing)
            }
        case .cancelledEarly:
            break
        }
        stateLock.unlock()
        wakeups.perform()
    }
}
