/// Binary min-heap of timers ordered by (deadline, sequence).
///
/// The sort keys live inline in the heap array, so sifting compares plain
/// integers instead of chasing a pointer per comparison (with 200,000 pending
/// timers that was the whole cost of a timer). Cancellation is O(1): the node
/// is marked dead and skipped when it reaches the top; when dead entries
/// outnumber live ones the heap is compacted, so churn (a timeout re-armed on
/// every read) cannot grow it without bound. Insert and pop are O(log n).
struct TimerHeap {
    /// A timer with its sort keys inline; also the unit a `TimerWheel` keeps.
    ///
    /// Four plain words, cheap to sort and cascade: the deadline, the
    /// scheduling order, and what fires, which is either a retained
    /// `TimerNode` or a fire-and-forget closure (`TimerClosure`) held
    /// inline. Copies are free; exactly one copy is ever consumed (fired,
    /// or removed), and it owns the node's retain or the closure.
    struct Entry {
        var deadline: UInt64
        /// The scheduling sequence shifted left once, its low bit set for a
        /// closure entry: ordering by it is ordering by sequence.
        private var order: UInt64
        /// A node entry: the node's address and 0. A closure entry: the
        /// closure's words.
        private var payload: TimerClosure.Words

        /// An entry for a node; retained on insert, released on removal.
        @inline(__always)
        init(deadline: UInt64, sequence: UInt64, node: Unmanaged<TimerNode>) {
            self.deadline = deadline
            order = sequence << 1
            payload = (UInt(bitPattern: node.toOpaque()), 0)
        }

        /// An entry that holds `closure` (moved in).
        @inline(__always)
        init(deadline: UInt64, sequence: UInt64, closure: consuming TimerClosure) {
            self.deadline = deadline
            order = sequence << 1 | 1
            payload = closure.words()
        }

        /// Tie-breaker: timers with equal deadlines fire in scheduling order.
        @inline(__always)
        var sequence: UInt64 { order >> 1 }

        /// Whether the entry is a fire-and-forget closure, not a node.
        @inline(__always)
        var isClosure: Bool { order & 1 != 0 }

        /// The node; only for node entries.
        @inline(__always)
        var node: Unmanaged<TimerNode> {
            assert(!isClosure, "node of a closure entry")
            return Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: payload.0).unsafelyUnwrapped)
        }

        /// Moves the closure out; only for closure entries, once, after
        /// which every copy of the entry is forgotten.
        @inline(__always)
        func takeClosure() -> TimerClosure {
            assert(isClosure, "closure of a node entry")
            return TimerClosure.take(payload)
        }

        /// What firing the entry touches first, for a prefetch: the node,
        /// or the closure's context (nil when it captures nothing).
        @inline(__always)
        var firstTouched: UnsafeRawPointer? {
            isClosure ? TimerClosure.context(payload) : UnsafeRawPointer(bitPattern: payload.0)
        }

        /// Whether the timer will still fire: a closure always (it cannot be
        /// cancelled), a node until cancelled.
        @inline(__always)
        var isLive: Bool { isClosure || node._withUnsafeGuaranteedRef { $0.isLive } }

        /// For dropping a dead (cancelled node) entry: releases the node.
        func releaseDead() {
            node._withUnsafeGuaranteedRef { $0.inHeap = false }
            node.release()
        }

        @inline(__always)
        func precedes(_ other: Entry) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : order < other.order
        }

        /// For removing every timer: consumes the entry. A node's retain is
        /// taken over and, if the node is live, it is marked fired and kept
        /// in `removed`; a closure goes to `removed` unrun.
        func remove(into removed: inout RemovedTimers) {
            if isClosure {
                removed.closures.append(takeClosure())
                return
            }
            let node = self.node.takeRetainedValue()
            node.inHeap = false
            if node.isLive {
                node.isLive = false
                removed.nodes.append(node)
            }
        }
    }

    private var entries: ContiguousArray<Entry> = []
    private var cancelled = 0
    private var nextSequence: UInt64 = 0

    /// Live (not cancelled) timers.
    var count: Int { entries.count - cancelled }
    var isEmpty: Bool { count == 0 }

    /// The sequence number the next insert gets; timers inserted from now on
    /// compare greater than every timer already in the heap with the same deadline.
    var sequenceHorizon: UInt64 { nextSequence }

    mutating func insert(_ node: TimerNode) {
        node.inHeap = true
        push(Entry(deadline: node.deadline.uptimeNanoseconds, sequence: nextSequence, node: .passRetained(node)))
        nextSequence &+= 1
    }

    // MARK: Raw entries (for `TimerWheel`, which keeps its own cancel count)

    /// Capacity of the entry buffer (tests).
    var bufferCapacity: Int { entries.capacity }

    /// Frees the entry buffer; only when empty.
    mutating func releaseBuffer() {
        precondition(entries.isEmpty, "buffer released with entries in it")
        entries = []
    }

    /// The earliest entry, dead or alive.
    var top: Entry? { entries.first }

    /// Adds an entry; the heap takes over its retain.
    mutating func push(_ entry: Entry) {
        entries.append(entry)
        siftUp(entries.count - 1)
    }

    /// Removes the earliest entry; the caller takes over its retain.
    mutating func popTop() -> Entry {
        let top = entries[0]
        removeTop()
        return top
    }

    /// Drops (and releases) every cancelled entry; returns how many.
    mutating func removeCancelled() -> Int {
        let before = entries.count
        compact()
        return before - entries.count
    }

    /// Marks `node` cancelled; its action is dropped. O(1) amortized.
    @discardableResult
    mutating func cancel(_ node: TimerNode) -> Bool {
        guard markCancelled(node) else { return false }
        node.didCancel()
        return true
    }

    /// Marks `node` cancelled but leaves its action in place: the caller
    /// drops it (`didCancel()`) once it no longer holds the heap (or its
    /// lock), because the action's captures may schedule or cancel timers
    /// when they are freed.
    mutating func markCancelled(_ node: TimerNode) -> Bool {
        guard node.isLive else { return false }
        node.isLive = false
        if node.inHeap {
            cancelled += 1
            if cancelled > 1024 && cancelled > entries.count / 2 { compact() }
        }
        return true
    }

    /// The earliest live timer's deadline, dropping cancelled entries on top.
    mutating func nextDeadline() -> Deadline? {
        dropCancelledTop()
        return entries.first.map { Deadline(uptimeNanoseconds: $0.deadline) }
    }

    /// Removes and returns the earliest live timer if it is due at `now` and
    /// was inserted before `horizon`.
    mutating func popDue(now: Deadline, horizon: UInt64) -> TimerNode? {
        dropCancelledTop()
        guard let top = entries.first, top.deadline <= now.uptimeNanoseconds, top.sequence < horizon else {
            return nil
        }
        removeTop()
        let node = top.node.takeRetainedValue()
        node.inHeap = false
        node.isLive = false
        return node
    }

    /// Removes every timer into `removed`: the live nodes (now marked
    /// fired) in no particular order, and any closures.
    mutating func removeAll(into removed: inout RemovedTimers) {
        for entry in entries { entry.remove(into: &removed) }
        entries.removeAll()
        cancelled = 0
    }

    private mutating func dropCancelledTop() {
        while let top = entries.first, !top.isLive {
            removeTop()
            top.releaseDead()
            cancelled -= 1
        }
    }

    private mutating func removeTop() {
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            siftDown(0)
        }
    }

    private mutating func compact() {
        var kept = ContiguousArray<Entry>()
        kept.reserveCapacity(entries.count - cancelled)
        for entry in entries {
            if entry.isLive {
                kept.append(entry)
            } else {
                entry.releaseDead()
            }
        }
        entries = kept
        cancelled = 0
        // Floyd's heap construction: O(n).
        var index = entries.count / 2
        while index > 0 {
            index -= 1
            siftDown(index)
        }
    }

    private mutating func siftUp(_ start: Int) {
        entries.withUnsafeMutableBufferPointer { heap in
            var child = start
            let entry = heap[child]
            while child > 0 {
                let parent = (child - 1) / 2
                guard entry.precedes(heap[parent]) else { break }
                heap[child] = heap[parent]
                child = parent
            }
            heap[child] = entry
        }
    }

    private mutating func siftDown(_ start: Int) {
        entries.withUnsafeMutableBufferPointer { heap in
            var parent = start
            let entry = heap[parent]
            let count = heap.count
            while true {
                let left = 2 * parent + 1
                guard left < count else { break }
                let right = left + 1
                let child = right < count && heap[right].precedes(heap[left]) ? right : left
                guard heap[child].precedes(entry) else { break }
                heap[parent] = heap[child]
                parent = child
            }
            heap[parent] = entry
        }
    }
}
