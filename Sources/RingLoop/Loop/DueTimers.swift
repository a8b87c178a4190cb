import CPrefetch

/// A `TimerWheel`'s timers whose tick has come, in firing order: a sorted
/// run (a drained wheel slot, sorted once) merged with a heap (timers that
/// were already due when they were inserted).
///
/// A drained slot used to go through the heap one entry at a time; with a
/// million timers due within milliseconds that is some 13,000 entries per
/// tick, each pushed and popped at O(log n). Sorting the slot once (a radix
/// sort, `sortTickInFiringOrder`) is sequential work, and the firing order is then
/// known in advance: popping from the run prefetches the node a few entries
/// ahead, so the cache misses of timers scattered in memory overlap instead
/// of coming one after the other (the node miss was the largest single cost
/// of firing a million timers).
///
/// Holds the entries' retains like the wheel's slots; the wheel keeps the
/// counts of live and cancelled entries.
struct DueTimers {
    typealias Entry = TimerHeap.Entry

    /// How many entries ahead of the one being popped the run prefetches:
    /// enough to cover a miss while a few timers fire, few enough that the
    /// nodes are still in cache when their turn comes.
    static let prefetchDistance = 8

    private var heap = TimerHeap()
    private var run = ContiguousArray<Entry>()
    /// The next entry of `run`; the ones before it have been popped.
    private var runHead = 0
    /// The radix sort's second buffer: stale copies of entries, owning
    /// nothing, kept between ticks (up to `keptSpare`, or four runs' worth).
    private var spare = ContiguousArray<Entry>()
    static let keptSpare = 4096
    /// The radix sort's counters, allocated once: per sort they would be a
    /// 2 KiB malloc (too big for the stack), the kind that consolidates
    /// glibc's fast bins.
    private var digits = ContiguousArray<Int>(repeating: 0, count: 256)

    private var runIsEmpty: Bool { runHead == run.count }

    /// The earliest entry, dead or alive.
    var top: Entry? {
        let fromHeap = heap.top
        guard !runIsEmpty else { return fromHeap }
        let fromRun = run[runHead]
        guard let fromHeap else { return fromRun }
        return fromHeap.precedes(fromRun) ? fromHeap : fromRun
    }

    /// Adds one entry; takes over its retain.
    mutating func push(_ entry: Entry) {
        heap.push(entry)
    }

    /// Takes every entry of `entries` (all due, and whose retains it takes
    /// over): sorts them in place and copies them into the run. The caller
    /// forgets them.
    mutating func adopt(_ entries: UnsafeMutableBufferPointer<Entry>) {
        guard !entries.isEmpty else { return }
        guard runIsEmpty else {
            // Only when the wheel drains a slot with the run unfinished,
            // which its callers never do; correct either way.
            for entry in entries { heap.push(entry) }
            return
        }
        if spare.count < entries.count {
            // Placeholders (entries own nothing by being copied): only the
            // count matters, the sort overwrites them.
            spare.append(contentsOf: repeatElement(entries[0], count: entries.count - spare.count))
        }
        spare.withUnsafeMutableBufferPointer { spare in
            digits.withUnsafeMutableBufferPointer { entries.sortTickInFiringOrder(spare: spare, digits: $0) }
        }
        if spare.count > max(Self.keptSpare, 4 * entries.count) { spare = [] }
        if run.capacity > max(Self.keptSpare, 4 * entries.count) { run = [] }
        run.removeAll(keepingCapacity: true)
        run.append(contentsOf: entries)
        runHead = 0
        for index in 0..<min(Self.prefetchDistance, run.count) {
            Self.prefetch(run[index])
        }
    }

    /// Removes the earliest entry; the caller takes over its retain.
    mutating func popTop() -> Entry {
        if !runIsEmpty, heap.top.map({ !$0.precedes(run[runHead]) }) ?? true {
            let entry = run[runHead]
            runHead += 1
            let ahead = runHead + Self.prefetchDistance - 1
            if ahead < run.count { Self.prefetch(run[ahead]) }
            if runIsEmpty { run.removeAll(keepingCapacity: true); runHead = 0 }
            return entry
        }
        return heap.popTop()
    }

    /// Drops the dead entries: the heap's are released at once, the run's
    /// are appended to `dead` for the caller to release once it is
    /// consistent again (a deinit may schedule timers). Returns how many.
    mutating func removeDead(into dead: inout [Unmanaged<TimerNode>]) -> Int {
        var removed = heap.removeCancelled()
        guard !runIsEmpty else { return removed }
        var kept = runHead
        for index in runHead..<run.count {
            let entry = run[index]
            if entry.isLive {
                run[kept] = entry
                kept += 1
            } else {
                dead.append(entry.node)
                removed += 1
            }
        }
        run.removeSubrange(kept...)
        return removed
    }

    /// Removes every entry into `removed` (see `TimerHeap.removeAll(into:)`).
    mutating func removeAll(into removed: inout RemovedTimers) {
        heap.removeAll(into: &removed)
        for entry in run[runHead...] { entry.remove(into: &removed) }
        run.removeAll()
        runHead = 0
    }

    /// Capacity of the buffers held, in entries (tests).
    var bufferCapacity: Int { heap.bufferCapacity + run.capacity + spare.capacity }

    /// Frees the buffers; only when no entry is left.
    mutating func releaseBuffers() {
        precondition(top == nil, "buffers released with entries in them")
        heap.releaseBuffer()
        run = []
        runHead = 0
        spare = []
    }

    /// Prefetches what firing the entry reads first. For a node, its first
    /// 64 bytes (two cache lines at most, nodes being 16-byte aligned): the
    /// header, `TimerNode`'s flags and the fields a subclass reads first
    /// when it fires. For a closure, the first line of its context: its
    /// reference count and first captures.
    @inline(__always)
    private static func prefetch(_ entry: Entry) {
        guard let address = entry.firstTouched else { return }
        ringloop_prefetch_for_write(address)
        if !entry.isClosure { ringloop_prefetch_for_write(address + 63) }
    }
}
