#if canImport(Glibc)
import Glibc
#endif

/// Fires the deadlines of waits on sync primitives, from one shared thread.
///
/// Waits come from any executor, loop callbacks and plain threads, and a
/// waiter is usually completed by some other thread than the one that armed
/// its timeout, so the timers live in one heap under one lock rather than in
/// each loop's (loop-thread-only) heap: O(log n) to arm, O(log n) to cancel
/// from any thread. The thread starts on the first timed wait and then stays,
/// asleep while no timer is pending (restarting it would cost more than it
/// saves, and a thread count that changes by itself upsets tests). Actions run
/// on it, outside its lock; they only withdraw a waiter (taking its
/// primitive's lock) and resume it.
// Safe to share: `heap`, `started` and `sleepingUntil` are
// guarded by `mutex`; `TimerNode`s are touched only under it.
@usableFromInline final class TimeoutTimer: @unchecked Sendable {
    @usableFromInline static let shared = TimeoutTimer()

    /// A scheduled timeout, to cancel once its waiter resumes.
    // Safe to share: the node is only touched under the timer's `mutex`.
    @usableFromInline struct Handle: @unchecked Sendable {
        fileprivate let node: TimeoutNode

        @usableFromInline func cancel() { TimeoutTimer.shared.cancel(node) }
    }

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var heap = TimerHeap()
    private var started = false
    /// When the thread will wake by itself; nil while it is not waiting.
    private var sleepingUntil: Deadline?

    private init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attr)
        pthread_condattr_destroy(&attr)
    }

    /// Runs `action` on the timer thread once `deadline` passes, unless the
    /// returned handle is cancelled first.
    @usableFromInline
    func schedule(at deadline: Deadline, _ action: @escaping @Sendable () -> Void) -> Handle {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        let node = TimeoutNode(deadline: deadline, action: action)
        heap.insert(node)
        if !started {
            started = true
            Threads.detach(Threads.spawn(name: "ringloop-timer") { [self] in run() })
        } else if let sleepingUntil, deadline < sleepingUntil {
            pthread_cond_signal(condition)
        }
        return Handle(node: node)
    }

    private func cancel(_ node: TimeoutNode) {
        pthread_mutex_lock(mutex)
        // Cancelling the earliest timer needs no wakeup: the thread wakes at
        // its deadline, finds nothing due and sleeps on.
        let cancelled = heap.markCancelled(node)
        pthread_mutex_unlock(mutex)
        // Outside the mutex: freeing the action's captures may add or cancel
        // timeouts. Only this call cleared `isLive`, so nobody else touches `action`.
        if cancelled { node.didCancel() }
    }

    /// Timers not yet fired or cancelled (tests assert it drops to 0).
    var pendingCount: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return heap.count
    }

    private func run() {
        pthread_mutex_lock(mutex)
        while true {
            if let node = heap.popDue(now: .now(), horizon: .max) {
                // Popped under the lock, so no `cancel` reaches it any more.
                pthread_mutex_unlock(mutex)
                node.fire(true)
                pthread_mutex_lock(mutex)
            } else {
                sleep(until: heap.nextDeadline() ?? .distantFuture)
            }
        }
    }

    /// Waits on the condition (mutex held) until `deadline` or a signal.
    private func sleep(until deadline: Deadline) {
        sleepingUntil = deadline
        if deadline == .distantFuture {
            pthread_cond_wait(condition, mutex)
        } else {
            var ts = timespec(tv_sec: Int(deadline.uptimeNanoseconds / 1_000_000_000),
                              tv_nsec: Int(deadline.uptimeNanoseconds % 1_000_000_000))
            _ = pthread_cond_timedwait(condition, mutex, &ts)
        }
        sleepingUntil = nil
    }
}

/// A timeout in `TimeoutTimer`'s heap.
// Safe to share: `action` is set at init and then touched once, either by the
// canceller that cleared `isLive` under the timer's mutex (after unlocking), or
// by the timer thread after popping the node
// under that mutex (after which no cancellation reaches it).
final class TimeoutNode: TimerNode, @unchecked Sendable {
    private var action: (@Sendable () -> Void)?

    init(deadline: Deadline, action: @escaping @Sendable () -> Void) {
        self.action = action
        super.init(deadline: deadline)
    }

    override func fire(_ fired: Bool) {
        let action = self.action
        self.action = nil
        action?()
    }

    override func didCancel() { action = nil }
}
