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
    struct Entry {
        var deadline: UInt64
        /// Tie-breaker: timers with equal deadlines fire in scheduling order.
        var sequence: UInt64
        /// What fires: a retained `TimerNode`'s address (even: nodes are
        /// 16-byte aligned), or a closure's index in a wheel's
        /// `TimerClosures`, shifted left once and tagged with the low bit.
        /// Either way the entry stays three plain words, cheap to sort and
        /// cascade.
        private var payload: UInt

        /// An entry for a node; retained on insert, released on removal.
        @inline(__always)
        init(deadline: UInt64, sequence: UInt64, node: Unmanaged<TimerNode>) {
            self.deadline = deadline
            self.sequence = sequence
            payload = UInt(bitPattern: node.toOpaque())
        }

        /// An entry for the closure at `closureIndex` in its wheel's
        /// `TimerClosures` (which owns the closure).
        @inline(__always)
        init(deadline: UInt64, sequence: UInt64, closureIndex: Int) {
            self.deadline = deadline
            self.sequence = sequence
            payload = UInt(truncatingIfNeeded: closureIndex) << 1 | 1
        }

        /// Whether the entry is a fire-and-forget closure, not a node.
        @inline(__always)
        var isClosure: Bool { payload & 1 != 0 }

        /// The closure's index in `TimerClosures`; only for closure entries.
        @inline(__always)
        var closureIndex: Int {
            assert(isClosure, "closure index of a node entry")
            return Int(truncatingIfNeeded: payload >> 1)
        }

        /// The node; only for node entries.
        @inline(__always)
        var node: Unmanaged<TimerNode> {
            assert(!isClosure, "node of a closure entry")
            return Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: payload).unsafelyUnwrapped)
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
            deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
        }

        /// For removing every timer: takes over a node entry's retain and,
        /// if the node is live, marks it fired and appends it to `live`.
        /// A closure entry owns nothing: its wheel drops the closures.
        func remove(keepingLiveIn live: inout [TimerNode]) {
            guard !isClosure else { return }
            let node = self.node.takeRetainedValue()
            node.inHeap = false
            if node.isLive {
                node.isLive = false
                live.append(node)
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

    /// Removes every timer, returning the live ones (now marked fired) in no
    /// particular order.
    mutating func removeAll() -> [TimerNode] {
        var live: [TimerNode] = []
        for entry in entries { entry.remove(keepingLiveIn: &live) }
        entries.removeAll()
        cancelled = 0
        return live
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
