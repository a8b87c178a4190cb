/// A timer for a loop's `TimerWheel` (or a `TimerHeap`); subclasses say what
/// firing does. Touched only on its loop's thread (or under its heap's lock).
@usableFromInline
class TimerNode {
    @usableFromInline let deadline: Deadline
    /// False once fired, failed or cancelled.
    @usableFromInline var isLive = true
    /// Whether the node sits in a heap (it can be cancelled before it gets there).
    var inHeap = false
    /// Scheduling order in its wheel: the tie-breaker between equal deadlines.
    var sequence: UInt64 = 0
    /// The wheel slot whose list holds the node, or -1.
    var wheelSlot: Int32 = -1
    /// Links of that slot's list; the wheel holds one retain of every listed node.
    var next: Unmanaged<TimerNode>?
    var previous: Unmanaged<TimerNode>?

    @usableFromInline
    init(deadline: Deadline) { self.deadline = deadline }

    /// Runs once: `fired` is true when the deadline passed, false when the loop
    /// shut down first.
    @usableFromInline
    func fire(_ fired: Bool) {}

    /// Runs when the timer is cancelled: drop captured state early.
    @usableFromInline
    func didCancel() {}
}

/// A timer that runs a closure.
final class ClosureTimer: TimerNode {
    private var action: ((_ fired: Bool) -> Void)?

    init(deadline: Deadline, action: @escaping (_ fired: Bool) -> Void) {
        self.action = action
        super.init(deadline: deadline)
    }

    override func fire(_ fired: Bool) {
        let action = self.action
        self.action = nil
        action?(fired)
    }

    override func didCancel() { action = nil }
}
