/// A loop's timers: a hierarchical timing wheel in front of a small heap.
///
/// Time is cut into ticks of 2^16 ns (about 66 µs). The wheel has eight levels
/// of 64 slots; a slot of level L spans 64^L ticks, so the eight levels cover
/// every `UInt64` deadline and no timer ever waits in an overflow list (the
/// design of tokio's timer wheel). A timer lives in the slot where its
/// deadline's tick first differs from the wheel's current tick (`elapsed`),
/// in an intrusive doubly linked list, so scheduling and cancelling are O(1).
/// As time passes, the earliest occupied slot is emptied: its timers drop to
/// a lower level (a cascade; each timer cascades at most once per level) or,
/// once their tick has come, into `due`.
///
/// `due` is a binary heap ordered by (deadline, scheduling sequence) holding
/// only timers whose tick has come, at most a tick's worth in steady state,
/// so firing stays exact to the nanosecond and in scheduling order among equal
/// deadlines while the heap stays small. Every timer in `due` precedes every
/// timer in the wheel, because its tick is at most `elapsed` and theirs is
/// greater.
///
/// A value type with no clock of its own: callers pass the time, so tests
/// drive it with a fake clock.
struct TimerWheel {
    static let tickShift: UInt64 = 16
    static let levels = 8
    static let slotBits = 6
    static let slotsPerLevel = 1 << slotBits

    /// List heads, `levels × slotsPerLevel`, each holding one retain per node.
    private var slots: ContiguousArray<Unmanaged<TimerNode>?>
    /// Per level, a bit per non-empty slot.
    private var occupied: ContiguousArray<UInt64>
    /// The wheel's current tick: wheel timers have later ticks, `due` ones
    /// earlier or equal ticks.
    private var elapsed: UInt64
    private var due = TimerHeap()
    private var inWheel = 0
    private var nextSequence: UInt64 = 0

    /// A wheel whose clock starts at `now`.
    init(now: Deadline = .distantPast) {
        slots = ContiguousArray(repeating: nil, count: Self.levels * Self.slotsPerLevel)
        occupied = ContiguousArray(repeating: 0, count: Self.levels)
        elapsed = now.uptimeNanoseconds >> Self.tickShift
    }

    /// Live (not cancelled) timers.
    var count: Int { inWheel + due.count }
    var isEmpty: Bool { count == 0 }

    /// The sequence number the next insert gets: timers inserted from now on
    /// are not returned by `popDue(now:horizon:)` with this horizon.
    var sequenceHorizon: UInt64 { nextSequence }

    mutating func insert(_ node: TimerNode) {
        node.sequence = nextSequence
        nextSequence &+= 1
        place(node)
    }

    /// Cancels `node` if it is still pending; its action is dropped. O(1).
    @discardableResult
    mutating func cancel(_ node: TimerNode) -> Bool {
        guard node.wheelSlot >= 0 else { return due.cancel(node) }
        unlink(node)
        node.isLive = false
        node.didCancel()
        Unmanaged.passUnretained(node).release()
        return true
    }

    /// A time at or before the earliest pending deadline: exact when that
    /// timer's tick has come, else the start of its wheel slot (the loop wakes
    /// there, cascades, and sleeps on until the exact deadline).
    mutating func nextDeadline() -> Deadline? {
        if let deadline = due.nextDeadline() { return deadline }
        guard let (level, slot) = nextOccupiedSlot() else { return nil }
        return Deadline(uptimeNanoseconds: slotStart(level: level, slot: slot) << Self.tickShift)
    }

    /// Removes and returns the earliest timer if it is due at `now` and was
    /// inserted before `horizon`, advancing the wheel to `now` when needed.
    mutating func popDue(now: Deadline, horizon: UInt64) -> TimerNode? {
        if due.isEmpty { advance(to: now) }
        return due.popDue(now: now, horizon: horizon)
    }

    /// Removes every timer, returning the live ones (now marked fired) in no
    /// particular order.
    mutating func removeAll() -> [TimerNode] {
        var live = due.removeAll()
        for index in slots.indices {
            var cursor = slots[index]
            slots[index] = nil
            while let current = cursor {
                let node = current.takeRetainedValue()
                cursor = node.next
                node.next = nil
                node.previous = nil
                node.wheelSlot = -1
                node.isLive = false
                live.append(node)
            }
        }
        for level in occupied.indices { occupied[level] = 0 }
        inWheel = 0
        return live
    }

    // MARK: Wheel mechanics

    /// Empties every slot whose start is at or before `now`'s tick, then
    /// moves `elapsed` to that tick.
    private mutating func advance(to now: Deadline) {
        let target = now.uptimeNanoseconds >> Self.tickShift
        guard target > elapsed else { return }
        while let (level, slot) = nextOccupiedSlot() {
            let start = slotStart(level: level, slot: slot)
            guard start <= target else { break }
            elapsed = start
            let index = level * Self.slotsPerLevel + slot
            var cursor = slots[index]
            slots[index] = nil
            occupied[level] &= ~(1 << UInt64(slot))
            while let current = cursor {
                let node = current._withUnsafeGuaranteedRef { node in
                    cursor = node.next
                    node.next = nil
                    node.previous = nil
                    node.wheelSlot = -1
                    return node
                }
                inWheel -= 1
                // Still retained by the wheel: `place` takes that retain over.
                place(node, retained: current)
            }
        }
        // Every remaining slot starts after `target`, so each wheel timer
        // still sits at the level where its tick first differs from `target`.
        elapsed = target
    }

    /// Puts a numbered node in `due` or a wheel slot.
    private mutating func place(_ node: TimerNode, retained: Unmanaged<TimerNode>? = nil) {
        let tick = node.deadline.uptimeNanoseconds >> Self.tickShift
        guard tick > elapsed else {
            due.insert(node, sequence: node.sequence)
            retained?.release()
            return
        }
        // The highest 6-bit digit in which the tick differs from `elapsed`.
        let significant = 63 - ((elapsed ^ tick) | 63).leadingZeroBitCount
        let level = significant / Self.slotBits
        let slot = Int(truncatingIfNeeded: tick >> UInt64(level * Self.slotBits)) & (Self.slotsPerLevel - 1)
        let index = level * Self.slotsPerLevel + slot
        let handle = retained ?? Unmanaged.passRetained(node)
        node.wheelSlot = Int32(index)
        node.previous = nil
        node.next = slots[index]
        if let head = slots[index] {
            head._withUnsafeGuaranteedRef { $0.previous = handle }
        }
        slots[index] = handle
        occupied[level] |= 1 << UInt64(slot)
        inWheel += 1
    }

    /// Takes `node` out of its slot's list (the caller owns its retain).
    private mutating func unlink(_ node: TimerNode) {
        let index = Int(node.wheelSlot)
        if let previous = node.previous {
            previous._withUnsafeGuaranteedRef { $0.next = node.next }
        } else {
            slots[index] = node.next
        }
        if let next = node.next {
            next._withUnsafeGuaranteedRef { $0.previous = node.previous }
        }
        if slots[index] == nil {
            occupied[index >> Self.slotBits] &= ~(1 << UInt64(index & (Self.slotsPerLevel - 1)))
        }
        node.next = nil
        node.previous = nil
        node.wheelSlot = -1
        inWheel -= 1
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
