import Synchronization

/// One spare waiter node, kept by a primitive for its next wait.
///
/// A node is a heap object, and freeing one is dear: `Waiter` is generic, so
/// its deinit runs unspecialized and looks up the metadata of each field's
/// type in the runtime's cache (a third of what RingLoop's own code spent on
/// a lock hand-off). A task waits with one node at a time, so one spare per
/// primitive is enough for the common rhythm of tasks taking turns: the
/// waiter that resumes puts its node back, the next one to wait takes it.
///
/// A node goes back only when nothing can touch it any more: its wait
/// completed (its resumption delivered, its cancellation handler removed), it
/// had no deadline (a timer that fired may still be about to look at it), and
/// no cancellation came after its completion (that one set a flag on it). The
/// thread that resumed it may still hold a reference for a moment, but it
/// touches no field after resuming the continuation (`Waiter.resumeNow`), so
/// it only releases that reference later. The node is then in the state a
/// completed wait leaves it: out of every queue, no timer, resumer or
/// outcome; `take` makes its phase `.admitting` again before anyone else can
/// see it (the cancellation handler is installed after).
struct WaiterCache<Node: WaiterNode>: ~Copyable {
    /// The spare, retained (`Unmanaged`), or nil.
    private let slot = Atomic<UnsafeMutableRawPointer?>(nil)

    init() {}

    deinit {
        if let spare = slot.load(ordering: .acquiring) {
            Unmanaged<Node>.fromOpaque(spare).release()
        }
    }

    /// Whether a spare is kept (a snapshot, for tests).
    var holdsSpare: Bool { slot.load(ordering: .relaxed) != nil }

    /// The spare node, ready for a new wait, if there is one.
    func take() -> Node? {
        guard let spare = slot.exchange(nil, ordering: .acquiring) else { return nil }
        let node = Unmanaged<Node>.fromOpaque(spare).takeRetainedValue()
        node.phase = .admitting
        return node
    }

    /// Keeps `node` as the spare if its wait is over and nothing can touch
    /// it any more; `timed` says it had a deadline (then it is not kept: see
    /// the type's comment). Called by the waiting task once its wait returned
    /// or threw.
    func recycle(_ node: consuming Node, timed: Bool) {
        guard !timed, node.phase == .done,
              !node.cancelledAfterCompletion.load(ordering: .relaxed) else { return }
        let spare = Unmanaged.passRetained(consume node).toOpaque()
        if !slot.compareExchange(expected: nil, desired: spare, ordering: .releasing).exchanged {
            Unmanaged<Node>.fromOpaque(spare).release()
        }
    }
}
