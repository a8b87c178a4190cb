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
/// Noncopyable so that its `deinit` can unlink a long queue iteratively (a
/// primitive dropped with many future-form waiters would otherwise release its
/// chain recursively); each dropped waiter's promise then fails with
/// `RingLoopError.promiseDropped`.
struct WaiterQueue<Node: WaiterNode>: ~Copyable {
    /// Written into each node it holds; nonzero.
    let tag: UInt8
    private(set) var count = 0
    private var head: Node?
    /// Unowned: the tail is linked, so kept alive by the chain from `head`.
    private unowned(unsafe) var tail: Node?

    init(tag: UInt8) {
        precondition(tag != 0, "RingLoop: queue tag 0 means 'in no queue'")
        self.tag = tag
    }

    deinit {
        var node: WaiterNode? = head
        while let current = node {
            node = current.next
            current.next = nil
            current.queueTag = 0
        }
    }

    var isEmpty: Bool { head == nil }

    /// The longest-waiting node.
    var first: Node? { head }

    /// Whether `node` is in this queue.
    func contains(_ node: WaiterNode) -> Bool { node.queueTag == tag }

    mutating func append(_ node: Node) {
        precondition(node.queueTag == 0, "RingLoop: a waiter is already queued")
        node.queueTag = tag
        node.next = nil
        node.previous = tail
        if let tail {
            tail.next = node
        } else {
            head = node
        }
        tail = node
        count += 1
    }

    mutating func popFirst() -> Node? {
        guard let node = head else { return nil }
        remove(node)
        return node
    }

    /// Unlinks `node`, which must be in this queue.
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
            tail = node.previous.map { unsafeDowncast($0, to: Node.self) }
        }
        node.next = nil
        node.previous = nil
        node.queueTag = 0
        count -= 1
    }
}
