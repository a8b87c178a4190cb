/// The one FIFO of suspended callers under every sync primitive: an intrusive
/// doubly-linked list of `Waiter` nodes with O(1) append, O(1) removal of any
/// node (a cancelled or timed-out waiter leaves from wherever it stands) and
/// O(1) removal of the first.
///
/// Not thread-safe by itself: each primitive keeps its queues and its state
/// under one `Lock` (`stateLock`). A primitive with several queues (an
/// `AsyncQueue`'s getters and putters, a condition and its lock) gives each a
/// distinct `tag`, so a node knows which queue holds it.
///
/// **Cancellation (every primitive).** A waiter completes exactly once, by
/// whichever comes first: the hand-off (lock, permit, item, notification,
/// event, round), its task's cancellation (`CancellationError`) or its
/// deadline (`RingLoopError.timedOut`). A waiter that gives up leaves its
/// queue in O(1) as if it had never come. And nothing handed over is consumed
/// by a cancelled task: when the hand-off wins the race but the task is
/// cancelled before it runs again, the waiter still throws
/// `CancellationError` and passes what it was handed on — a lock or permit to
/// the next waiter (or back to the primitive), an item to the next getter
/// (or back to the front of the queue), a condition's notification to the
/// next condition waiter — so a cancelled `withLock`/`withPermit` body never
/// runs and a cancelled `get()` never swallows an item. Two hand-offs cannot
/// be taken back, and say so instead: a `put` whose item went in returns
/// normally, and a barrier round stays passed for the other parties (the
/// cancelled party throws, as in asyncio). A primitive's fast path (a free
/// lock, a permit, a buffered item, a set event) completes without
/// suspending, even in a cancelled task. The future-returning forms have no
/// task to cancel; only their deadline ends them. `suspend` implements this.
///
/// A primitive dropped with future-form waiters still queued releases the
/// chain (iteratively: see `WaiterNode.deinit`), and each dropped waiter's
/// promise fails with `RingLoopError.promiseDropped`.
@usableFromInline
struct WaiterQueue<Node: WaiterNode> {
    /// Written into each node it holds; nonzero.
    @usableFromInline let tag: UInt8
    @usableFromInline var count = 0
    @usableFromInline var head: Node?
    /// Unretained: the tail is linked, so kept alive by the chain from
    /// `head`. `Unmanaged` rather than `unowned(unsafe)`: binding the latter
    /// to a local takes a strong reference (a retain/release pair per append).
    @usableFromInline var tail: Unmanaged<Node>?

    @inlinable
    init(tag: UInt8) {
        precondition(tag != 0, "RingLoop: queue tag 0 means 'in no queue'")
        self.tag = tag
    }

    @inlinable var isEmpty: Bool { head == nil }

    /// The longest-waiting node.
    @inlinable var first: Node? { head }

    /// Whether `node` is in this queue.
    @inlinable func contains(_ node: WaiterNode) -> Bool { node.queueTag == tag }

    @inlinable
    mutating func append(_ node: Node) {
        precondition(node.queueTag == 0, "RingLoop: a waiter is already queued")
        // A node in no queue has no successor: `popFirst` and `remove` clear
        // it (storing nil again would still cost a release call).
        assert(node.next == nil, "RingLoop: an unqueued waiter still has a successor")
        node.queueTag = tag
        if let tail {
            // Borrowed, not retained: the chain keeps the tail alive.
            tail._withUnsafeGuaranteedRef { tail in
                node.previous = tail
                tail.next = node
            }
        } else {
            node.previous = nil
            head = node
        }
        tail = Unmanaged.passUnretained(node)
        count += 1
    }

    /// Removes and returns the longest-waiting node. Ownership moves out of
    /// the chain (`take()`), so a hand-off pays no retain/release pair for it.
    @inlinable
    mutating func popFirst() -> Node? {
        guard let node = head.take() else { return nil }
        if let next = node.next.take() {
            next.previous = nil
            // Only `Node`s are ever appended, so the successor is one.
            head = unsafeDowncast(next, to: Node.self)
        } else {
            tail = nil
        }
        node.queueTag = 0
        count -= 1
        return node
    }

    /// Unlinks `node`, which must be in this queue.
    @inlinable
    mutating func remove(_ node: WaiterNode) {
        precondition(node.queueTag == tag, "RingLoop: removing a waiter from a queue that does not hold it")
        let next = node.next
        if let previous = node.previous {
            previous.next = next
        } else {
            // Only `Node`s are ever appended, so the successor is one.
            head = next.map { unsafeDowncast($0, to: Node.self) }
        }
        if let next {
            next.previous = node.previous
        } else {
            tail = node.previous.map { Unmanaged.passUnretained(unsafeDowncast($0, to: Node.self)) }
        }
        node.next = nil
        node.previous = nil
        node.queueTag = 0
        count -= 1
    }
}
