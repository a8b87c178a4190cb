import CPrefetch

/// The closures of a `TimerWheel`'s fire-and-forget timers
/// (`EventLoop.execute(at:_:)`), each in a numbered slot that its wheel
/// entry names.
///
/// Such a timer needs no `TimerNode`: nobody can cancel it or ask for its
/// outcome. Keeping its closure here instead of in a node saves a heap block
/// per timer, and with it the allocator's work (with a million timers, glibc
/// merging the freed nodes was a fifth of the CPU time), a reference count
/// and a cache miss when it fires. The slots are reused last-freed first,
/// so the busy ones stay in cache.
///
/// Touched only by its wheel, on the loop thread.
struct TimerClosures {
    typealias Closure = () -> Void

    /// A closure in a struct, not a bare `Closure?` element: an array of
    /// bare closures stores them in the generic (maximally abstracted) form,
    /// so every store and load wrapped the closure in a reabstraction thunk:
    /// a heap block per timer, the very cost this type is here to avoid.
    struct Slot {
        /// nil while the slot is free.
        var closure: Closure?
    }

    private var slots = ContiguousArray<Slot>()
    /// Indices of the free slots; the last one is reused first.
    private var freeSlots = ContiguousArray<UInt32>()

    /// Closures held.
    var count: Int { slots.count - freeSlots.count }

    /// Capacity of both buffers, in slots (tests).
    var bufferCapacity: Int { slots.capacity + freeSlots.capacity }

    /// Stores `closure`; returns its slot's index.
    @inline(__always)
    mutating func add(_ closure: @escaping Closure) -> Int {
        if let index = freeSlots.popLast() {
            slots[Int(index)].closure = closure
            return Int(index)
        }
        precondition(slots.count < Int(UInt32.max), "RingLoop: more than 2^32 pending timers")
        slots.append(Slot(closure: closure))
        return slots.count - 1
    }

    /// Removes and returns the closure at `index`, freeing its slot.
    @inline(__always)
    mutating func take(_ index: Int) -> Closure {
        // Moved out of the buffer, not copied then overwritten with nil: a
        // copy would retain the context and the overwrite release it again.
        // (`Optional.take()` and `unsafelyUnwrapped` are no shortcut: through
        // those generics the closure was wrapped in reabstraction thunks, two
        // heap blocks per timer.)
        precondition(index >= 0 && index < slots.count, "RingLoop: timer closure slot \(index) out of range")
        let slot = slots.withUnsafeMutableBufferPointer { buffer in
            let element = buffer.baseAddress.unsafelyUnwrapped + index
            let slot = element.move()
            element.initialize(to: Slot(closure: nil))
            return slot
        }
        guard let closure = slot.closure else { preconditionFailure("RingLoop: timer closure slot \(index) is free") }
        freeSlots.append(UInt32(truncatingIfNeeded: index))
        return closure
    }

    /// Where the slots start, for prefetching a slot before its timer fires
    /// (`DueTimers`); valid until the next `add`. A hint only: a prefetch
    /// of a stale address does no harm.
    @inline(__always)
    var baseAddress: UnsafeRawPointer? {
        slots.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
    }

    /// Where slot `index` lives, given `base` from `baseAddress`.
    @inline(__always)
    static func slotAddress(_ index: Int, from base: UnsafeRawPointer) -> UnsafeRawPointer {
        base + index &* MemoryLayout<Slot>.stride
    }

    /// Prefetches the context of the closure in the slot at `slot` (an
    /// address from `baseAddress`), once the slot itself is in cache.
    ///
    /// Firing a closure first touches its context (a heap block of the
    /// caller's captures), scattered in memory like the timers' deadlines:
    /// a cache miss per timer, which the loop cannot overlap unless it asks
    /// for the context early. A thick closure is two words, the function and
    /// then the context (nil when it captures nothing); reading the second
    /// word raw is a hint only: were the layout different, the prefetch
    /// would fetch a useless line, never fault or change behaviour.
    @inline(__always)
    static func prefetchContext(ofSlotAt slot: UnsafeRawPointer) {
        guard MemoryLayout<Slot>.size == 2 * MemoryLayout<UInt>.size else { return }
        let context = slot.load(fromByteOffset: MemoryLayout<UInt>.size, as: UInt.self)
        if let address = UnsafeRawPointer(bitPattern: context) { ringloop_prefetch_for_write(address) }
    }

    /// Removes every closure and returns them, for the caller to release
    /// once its own state is consistent (their captures' deinits may
    /// schedule timers). The buffers go back to malloc.
    mutating func removeAll() -> ContiguousArray<Slot> {
        freeSlots = []
        defer { slots = [] }
        return slots
    }

    /// With no closure left: frees both buffers (after a burst of timers).
    mutating func releaseBuffers() {
        precondition(count == 0, "timer closures released while held")
        slots = []
        freeSlots = []
    }
}
