/// Timers on the loop thread, for the layers above (futures, I/O deadlines).
extension EventLoop {
    /// Schedules `action` at `deadline`; it gets `true` when the timer fires and
    /// `false` when the loop shuts down first. Returns nil once the loop is
    /// closing (the caller fails its work with `.shutDown`).
    func scheduleTimer(at deadline: Deadline, _ action: @escaping (_ fired: Bool) -> Void) -> TimerNode? {
        let node = ClosureTimer(deadline: deadline, action: action)
        return insertTimer(node) ? node : nil
    }

    /// Runs `body` on the loop at `deadline` (never before it): a
    /// fire-and-forget timer, the loop's counterpart of
    /// `DispatchQueue.asyncAfter`.
    ///
    /// Cheaper than `schedule(at:_:)`: the timer has no handle, no future and
    /// no node of its own (its closure sits in the loop's timer wheel), so
    /// it cannot be cancelled and nobody learns its outcome. If the loop
    /// shuts down first, `body` is released without running; use
    /// `schedule(at:_:)` when something must learn of that (its future fails
    /// with `RingLoopError.shutDown`). Safe from any thread.
    ///
    /// `body` is taken `consuming` all the way into the wheel: a closure
    /// made for the call is stored without a retain (and the caller's
    /// release of it), 1.3% of a million timers.
    @inlinable
    public func execute(at deadline: Deadline, _ body: consuming @escaping @Sendable () -> Void) {
        if inEventLoop {
            insertTimer(at: deadline, body)
        } else {
            execute { [body] in self.insertTimer(at: deadline, body) }
        }
    }

    /// Runs `body` on the loop once `delay` has passed; see `execute(at:_:)`.
    @inlinable
    public func execute(after delay: Duration, _ body: consuming @escaping @Sendable () -> Void) {
        execute(at: .now() + delay, body)
    }

    /// Puts a fire-and-forget timer in the wheel; dropped once the loop is
    /// closing (like a node refused by `insertTimer(_:)`).
    @usableFromInline
    func insertTimer(at deadline: Deadline, _ body: consuming @escaping () -> Void) {
        preconditionInEventLoop()
        guard state == .running else { return }
        timers.insert(deadline: deadline, body)
    }

    /// Puts `node` in the timer heap (a node cancelled before it got here is
    /// dropped). Returns false once the loop is closing.
    @usableFromInline
    func insertTimer(_ node: TimerNode) -> Bool {
        preconditionInEventLoop()
        guard state == .running else { return false }
        if node.isLive { timers.insert(node) }
        return true
    }

    /// Cancels a pending timer; returns whether it was still pending (it then
    /// never fires).
    @usableFromInline
    @discardableResult
    func cancelTimer(_ node: TimerNode) -> Bool {
        preconditionInEventLoop()
        // The action is dropped after the wheel's mutation has ended: freeing
        // its captures may schedule or cancel timers on this loop.
        guard timers.markCancelled(node) else { return false }
        node.didCancel()
        return true
    }

    /// At shutdown: every pending timer node fires with `false` (its future
    /// fails with `.shutDown`), and the fire-and-forget closures are dropped
    /// unrun, once the wheel is consistent again (their captures' deinits
    /// may schedule timers, which a closing loop refuses).
    func endPendingTimers() {
        let removed = timers.removeAll()
        for node in removed.nodes { node.fire(false) }
        _ = consume removed
    }

    /// Pending timers (tests, diagnostics).
    package var pendingTimerCount: Int {
        preconditionInEventLoop()
        return timers.count
    }

    /// Fires every timer due now (the loop's tick calls it).
    func fireDueTimers() {
        guard let first = timers.nextDeadline() else { return }
        let now = Deadline.now()
        guard first <= now else { return }
        // Timers scheduled while firing wait for the next tick, even if due:
        // a timer that reschedules itself at "now" cannot starve the loop.
        let horizon = timers.sequenceHorizon
        while let due = timers.popDue(now: now, horizon: horizon) {
            // The slow-callback timing is written out in each case: hoisted
            // around the switch (an optional start time) it cost 6% of
            // firing a million fire-and-forget timers (A/B, six runs each).
            switch consume due {
            case .node(var node):
                // Asked before the assignment: evaluating `node.…` first
                // holds a second reference.
                let unobserved = isKnownUniquelyReferenced(&node)
                node.firesUnobserved = unobserved
                if let slowCallbacks {
                    let start = Deadline.now()
                    node.fire(true)
                    if slowCallbacks.report("timer", since: start) { counters.slowCallbacks &+= 1 }
                } else {
                    node.fire(true)
                }
            case .closure(let body):
                if let slowCallbacks {
                    let start = Deadline.now()
                    body()
                    if slowCallbacks.report("timer", since: start) { counters.slowCallbacks &+= 1 }
                } else {
                    body()
                }
            }
            freedBlockMerging.timerFired()
        }
    }
}
