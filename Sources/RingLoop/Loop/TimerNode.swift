/// A timer for a loop's `TimerWheel` (or a `TimerHeap`); subclasses say what
/// firing does. Touched only on its loop's thread (or under its heap's lock).
@usableFromInline
class TimerNode {
    @usableFromInline let deadline: Deadline
    // The flags skip the runtime's access checks: each access is a plain
    // load or store by the wheel or the loop, never open across a call.
    /// False once fired, failed or cancelled.
    @usableFromInline @exclusivity(unchecked) var isLive = true
    /// Whether the node sits in a heap or wheel (it can be cancelled before it gets there).
    @exclusivity(unchecked) var inHeap = false
    /// Set by the loop just before `fire(true)` when it holds the only
    /// reference to the node: nobody can ask for what firing produced.
    @usableFromInline @exclusivity(unchecked) var firesUnobserved = false

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
