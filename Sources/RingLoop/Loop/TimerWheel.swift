/// A loop's timers: a hierarchical timing wheel in front of a due list.
///
/// Time is cut into ticks of 2^16 ns (about 66 µs). The wheel has eight levels
/// of 64 slots; a slot of level L spans 64^L ticks, so the eight levels cover
/// every `UInt64` deadline and no timer waits in an overflow list (the layout
/// of tokio's timer wheel). A timer sits in the slot where its deadline's tick
/// first differs from the wheel's current tick, `elapsed`: scheduling is an
/// append, O(1). As time passes, the earliest occupied slot is emptied: its
/// timers drop to a lower level (a cascade; at most once per level) or, once
/// their tick has come, into `due`.
///
/// `due` (`DueTimers`) holds only timers whose tick has come, about a tick's
/// worth, ordered by (deadline, scheduling sequence), so firing stays exact
/// to the nanosecond and in scheduling order among equal deadlines: a
/// drained level-0 slot is sorted once into a run, and timers already due
/// when inserted go into a small heap. Every timer in `due` precedes every
/// timer in the wheel: its tick is at most `elapsed`, theirs are greater.
///
/// Slots are arrays of entries holding the sort keys inline, not lists
/// threaded through the nodes: a cascade moves keys without touching a node
/// (walking a million-node list was one cache miss per node, in sequence).
/// Cancelling is O(1) the same way as in `TimerHeap`: the node is marked dead
/// and its entry dropped when it surfaces, or by a sweep once dead entries
/// outnumber live ones, so cancel churn cannot grow the wheel without bound.
///
/// A value with no clock of its own: callers pass the time, so tests drive
/// it with a fake clock. Noncopyable: it owns its slots' memory.
struct TimerWheel: ~Copyable {
    typealias Entry = TimerHeap.Entry

    static let tickShift: UInt64 = 16
    static let levels = 8
    static let slotBits = 6
    static let slotsPerLevel = 1 << slotBits
    /// A drained slot's buffer is kept for reuse up to this many entries, or
    /// up to the number of timers pending: freeing big buffers while timers
    /// churn made glibc consolidate its free lists over and over (a fifth of
    /// the CPU time of a million timers).
    private static let keptCapacity = 4096

    /// `levels × slotsPerLevel` slots and a scratch buffer (a drained slot's
    /// entries, while they are re-placed); every entry holds one retain of
    /// its node.
    private var slots = TimerSlots(count: TimerWheel.levels * TimerWheel.slotsPerLevel)
    /// Per level, a bit per non-empty slot.
    private var occupied: ContiguousArray<UInt64>
    /// The wheel's current tick: timers in slots have later ticks, those in
    /// `due` earlier or equal ones.
    private var elapsed: UInt64
    private var due = DueTimers()
    /// Per slot, entries about to arrive in a cascade (zero between cascades).
    private var arriving: ContiguousArray<UInt32>
    /// Entries in slots and `due`, dead ones included.
    private var entries = 0
    /// Dead entries still in slots or `due`.
    private var cancelled = 0
    private var nextSequence: UInt64 = 0
    /// Set once more than `burstEntries` timers were pending: when the wheel
    /// next runs empty, it frees its buffers (`releaseBurstBuffers`), so a
    /// burst of a million timers does not keep tens of MiB of slots.
    private var hadBurst = false
    static let burstEntries = 16_384

    /// A wheel whose clock starts at `now`.
    init(now: Deadline = .distantPast) {
        occupied = ContiguousArray(repeating: 0, count: Self.levels)
        arriving = ContiguousArray(repeating: 0, count: Self.levels * Self.slotsPerLevel)
        elapsed = now.uptimeNanoseconds >> Self.tickShift
    }

    /// Live (not cancelled) timers.
    var count: Int { entries - cancelled }
    var isEmpty: Bool { count == 0 }

    /// The sequence number the next insert gets: timers inserted from now on
    /// are not returned by `popDue(now:horizon:)` with this horizon.
    var sequenceHorizon: UInt64 { nextSequence }

    mutating func insert(_ node: TimerNode) {
        node.inHeap = true
        add(Entry(deadline: node.deadline.uptimeNanoseconds, sequence: nextSequence, node: .passRetained(node)))
    }

    /// Adds a fire-and-forget timer: `closure` runs at `deadline` (by
    /// `popDue`), or is dropped by `removeAll`. It cannot be cancelled, so it
    /// needs no node.
    mutating func insert(deadline: Deadline, _ closure: consuming @escaping () -> Void) {
        add(Entry(deadline: deadline.uptimeNanoseconds, sequence: nextSequence, closure: TimerClosure(body: closure)))
    }

    /// Counts a new entry (made with `nextSequence`) and places it.
    private mutating func add(_ entry: Entry) {
        nextSequence &+= 1
        entries += 1
        if entries > Self.burstEntries { hadBurst = true }
        place(entry)
    }

    /// A timer whose time has come, as `popDue` hands it over.
    enum Due {
        /// A node, now marked fired; the caller fires it.
        case node(TimerNode)
        /// A fire-and-forget closure; the caller runs it.
        case closure(() -> Void)
    }

    /// Cancels `node` if it is still pending; its action is dropped. O(1) amortized.
    @discardableResult
    mutating func cancel(_ node: TimerNode) -> Bool {
        guard markCancelled(node) else { return false }
        node.didCancel()
        return true
    }

    /// Cancels `node` if it is still pending but leaves its action in place:
    /// the caller drops it (`didCancel()`) once it no longer holds the wheel
    /// for writing, because the action's captures may schedule or cancel
    /// timers on this wheel when they are freed.
    mutating func markCancelled(_ node: TimerNode) -> Bool {
        guard node.isLive else { return false }
        node.isLive = false
        if node.inHeap {
            cancelled += 1
            if cancelled > 1024 && cancelled > entries / 2 { sweep() }
        }
        return true
    }

    /// A time at or before the earliest pending deadline: exact when that
    /// timer's tick has come, else the start of its wheel slot (the loop wakes
    /// there, cascades, and sleeps on until the exact deadline).
    mutating func nextDeadline() -> Deadline? {
        dropCancelledTop()
        if let top = due.top { return Deadline(uptimeNanoseconds: top.deadline) }
        guard let (level, slot) = nextOccupiedSlot() else { return nil }
        return Deadline(uptimeNanoseconds: slotStart(level: level, slot: slot) << Self.tickShift)
    }

    /// Removes and returns the earliest live timer if it is due at `now` and
    /// was inserted before `horizon`, advancing the wheel towards `now` as needed.
    mutating func popDue(now: Deadline, horizon: UInt64) -> Due? {
        let target = now.uptimeNanoseconds >> Self.tickShift
        while true {
            dropCancelledTop()
            if let top = due.top {
                guard top.deadline <= now.uptimeNanoseconds, top.sequence < horizon else { return nil }
                _ = due.popTop()
                entries -= 1
                if top.isClosure { return .closure(top.takeClosure().body) }
                let node = top.node.takeRetainedValue()
                node.inHeap = false
                node.isLive = false
                return .node(node)
            }
            guard advanceOneSlot(to: target) else {
                if entries == 0 && hadBurst { releaseBurstBuffers() }
                return nil
            }
        }
    }

    /// Removes every timer, returning the live nodes (now marked fired) in no
    /// particular order, and the fire-and-forget closures, which the caller
    /// releases unrun once the wheel is no longer being written (their
    /// captures' deinits may schedule timers).
    mutating func removeAll() -> RemovedTimers {
        var removed = RemovedTimers()
        due.removeAll(into: &removed)
        for index in 0..<slots.count {
            for entry in slots[index].entries { entry.remove(into: &removed) }
            slots[index].removeAll()
            slots.free(index)
        }
        for level in occupied.indices { occupied[level] = 0 }
        entries = 0
        cancelled = 0
        return removed
    }

    /// Capacity of every buffer the wheel holds, in entries (tests).
    var bufferCapacity: Int {
        slots.capacity + due.bufferCapacity
    }

    /// With no timer left after a burst: every buffer goes back to malloc.
    private mutating func releaseBurstBuffers() {
        for index in 0...slots.count { slots.free(index) }
        due.releaseBuffers()
        hadBurst = false
    }

    // MARK: Wheel mechanics

    /// Empties the earliest slot if it starts at or before tick `target`;
    /// returns false (and moves `elapsed` up to `target`) when none does.
    private mutating func advanceOneSlot(to target: UInt64) -> Bool {
        guard let (level, slot) = nextOccupiedSlot() else {
            elapsed = max(elapsed, target)
            return false
        }
        let start = slotStart(level: level, slot: slot)
        guard start <= target else {
            // Every slot starts after `target`, so each timer still sits at
            // the level where its tick first differs from `target`.
            elapsed = max(elapsed, target)
            return false
        }
        elapsed = start
        let index = level * Self.slotsPerLevel + slot
        occupied[level] &= ~(1 << UInt64(slot))
        slots.swapWithScratch(index)
        let drained = slots.scratch.entries
        if level == 0 {
            // Every entry's tick is `start`, now `elapsed`: all are due.
            due.adopt(drained)
        } else {
            reserveDestinations(of: drained)
            for entry in drained { place(entry) }
        }
        slots.scratch.removeAll()
        if slots.scratch.capacity > max(Self.keptCapacity, entries) { slots.free(slots.count) }
        return true
    }

    /// Puts an entry in `due` or a slot.
    private mutating func place(_ entry: Entry) {
        guard let index = slotIndex(ofDeadline: entry.deadline) else {
            due.push(entry)
            return
        }
        slots[index].append(entry)
        occupied[index >> Self.slotBits] |= 1 << UInt64(index & (Self.slotsPerLevel - 1))
    }

    /// The slot for a deadline, or nil when its tick has come.
    @inline(__always)
    private func slotIndex(ofDeadline deadline: UInt64) -> Int? {
        let tick = deadline >> Self.tickShift
        guard tick > elapsed else { return nil }
        // The highest 6-bit digit in which the tick differs from `elapsed`.
        let significant = 63 - ((elapsed ^ tick) | 63).leadingZeroBitCount
        let level = significant / Self.slotBits
        let slot = Int(truncatingIfNeeded: tick >> UInt64(level * Self.slotBits)) & (Self.slotsPerLevel - 1)
        return level * Self.slotsPerLevel + slot
    }

    /// Grows every slot a cascade of `entries` will fill to its final size at
    /// once. Appending one by one grew each slot through every power of two,
    /// copying it each time; and each growth past 1 KiB made glibc consolidate
    /// its fast bins, full of the timer nodes just fired.
    private mutating func reserveDestinations(of entries: UnsafeMutableBufferPointer<Entry>) {
        for entry in entries {
            if let index = slotIndex(ofDeadline: entry.deadline) { arriving[index] &+= 1 }
        }
        for index in arriving.indices where arriving[index] != 0 {
            slots[index].reserve(Int(arriving[index]))
            arriving[index] = 0
        }
    }

    private mutating func dropCancelledTop() {
        while let top = due.top, !top.isLive {
            _ = due.popTop()
            top.releaseDead()
            entries -= 1
            cancelled -= 1
        }
    }

    /// Drops every dead entry.
    private mutating func sweep() {
        var dead: [Unmanaged<TimerNode>] = []
        let removedFromHeap = due.removeDead(into: &dead) - dead.count
        for index in 0..<slots.count where !slots[index].isEmpty {
            slots[index].removeAll { entry in
                let isDead = !entry.isLive
                if isDead { dead.append(entry.node) }
                return isDead
            }
            if slots[index].isEmpty {
                occupied[index >> Self.slotBits] &= ~(1 << UInt64(index & (Self.slotsPerLevel - 1)))
            }
        }
        // Released once the slots are consistent: a deinit may schedule timers.
        for node in dead {
            node._withUnsafeGuaranteedRef { $0.inHeap = false }
            node.release()
        }
        let removed = removedFromHeap + dead.count
        entries -= removed
        cancelled -= removed
    }

    /// The earliest non-empty slot. Every timer at level L shares the digits
    /// above L with `elapsed` and has a greater digit at L, so the lowest
    /// non-empty level's lowest set bit is the earliest slot.
    private func nextOccupiedSlot() -> (level: Int, slot: Int)? {
        for level in 0..<Self.levels where occupied[level] != 0 {
            return (level, occupied[level].trailingZeroBitCount)
        }
        return nil
    }

    /// The first tick of `slot` at `level`, in `elapsed`'s current span.
    private func slotStart(level: Int, slot: Int) -> UInt64 {
        let shift = UInt64(level * Self.slotBits)
        let above = shift + UInt64(Self.slotBits)
        let high = above >= 64 ? 0 : (elapsed >> above) << above
        return high | (UInt64(slot) << shift)
    }
}
