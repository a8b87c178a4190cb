/// A fire-and-forget timer's closure (`EventLoop.execute(at:_:)`), as its
/// wheel entry holds it: inline, as two plain words.
///
/// Such a timer needs no `TimerNode`: nobody can cancel it or ask for its
/// outcome. Keeping the closure in the entry saves the node's heap block,
/// its reference count and its cache miss. The closures used to wait in a
/// side table of slots that the entries indexed; firing then read a slot
/// at random (the slots go in scheduling order, the timers fire in deadline
/// order), a cache miss per timer that a prefetch had to chase before it
/// could fetch the context behind it. Inline, the closure arrives with its
/// entry, in sequence, and its context can be prefetched straight away.
///
/// The words hold the closure's retain: an entry is a plain value that the
/// wheel copies while sorting and cascading, and exactly one copy is ever
/// taken back (`take`), when the timer fires or the wheel is emptied.
struct TimerClosure {
    typealias Body = () -> Void

    /// The closure in a struct, not bare: through generic code (the raw
    /// memory calls below) a bare function value is converted to its most
    /// general form, wrapped in reabstraction thunks, two heap blocks per
    /// timer (measured); a struct's field keeps the closure's own form.
    var body: Body

    /// The two words: the function, then the context (a heap block of the
    /// captures, or nil when there are none).
    typealias Words = (UInt, UInt)

    /// Moves the closure into two words that own it.
    @inline(__always)
    consuming func words() -> Words {
        precondition(MemoryLayout<TimerClosure>.size == MemoryLayout<Words>.size, "RingLoop: a closure is not two words")
        let closure = self
        var words: Words = (0, 0)
        withUnsafeMutableBytes(of: &words) { raw in
            _ = raw.baseAddress.unsafelyUnwrapped.initializeMemory(as: TimerClosure.self, to: closure)
        }
        return words
    }

    /// Moves the closure back out of `words`, which the caller then forgets.
    @inline(__always)
    static func take(_ words: Words) -> TimerClosure {
        var words = words
        return withUnsafeMutableBytes(of: &words) { raw in
            raw.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: TimerClosure.self).move()
        }
    }

    /// The context's address in `words`, for a prefetch: firing touches the
    /// context first, and contexts are scattered in memory like deadlines.
    /// A hint only, never dereferenced here.
    @inline(__always)
    static func context(_ words: Words) -> UnsafeRawPointer? {
        UnsafeRawPointer(bitPattern: words.1)
    }
}

/// What emptying a timer collection hands back, for the caller to deal with
/// once the collection is consistent again (a deinit may schedule timers).
struct RemovedTimers {
    /// The live nodes, now marked fired (their owners fire them with `false`).
    var nodes: [TimerNode] = []
    /// The fire-and-forget closures, to be released unrun.
    var closures = ContiguousArray<TimerClosure>()
}
