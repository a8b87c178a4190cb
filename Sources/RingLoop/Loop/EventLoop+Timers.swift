/// Timers on the loop thread, for the layers above (futures, I/O deadlines).
extension EventLoop {
    /// Schedules `action` at `deadline`; it gets `true` when the timer fires and
    /// `false` when the loop shuts down first. Returns nil once the loop is
    /// closing (the caller fails its work with `.shutDown`).
    func scheduleTimer(at deadline: Deadline, _ action: @escaping (_ fired: Bool) -> Void) -> TimerNode? {
        let node = ClosureTimer(deadline: deadline, action: action)
        return insertTimer(node) ? node : nil
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
        while var top = timers.popDue(now: now, horizon: horizon) {
            // Asked before the assignment: evaluating `top.…` first holds a
            // second reference.
            let unobserved = isKnownUniquelyReferenced(&top)
            top.firesUnobserved = unobserved
            if let slowCallbacks {
                let start = Deadline.now()
                top.fire(true)
                if slowCallbacks.report("timer", since: start) { counters.slowCallbacks &+= 1 }
            } else {
                top.fire(true)
            }
            freedBlockMerging.timerFired()
        }
    }
}
