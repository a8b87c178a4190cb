/// Empty slot buffers a `TimerWheel` keeps for reuse, so that moving timers
/// between slots allocates nothing once the wheel has warmed up.
///
/// Without them every cascade grew its destination slots with fresh
/// buffers, and a buffer of 1 KiB or more is the kind of malloc that makes
/// glibc consolidate its fast bins: with timers firing (and their nodes
/// being freed in deadline order, scattered in memory) that was a
/// consolidation every few milliseconds, over a third of the CPU time of a
/// million timers with delays up to a second.
///
/// Buffers are handed out best-fit (the smallest that holds what is asked
/// for). What is kept is bounded by the caller (`trim(to:)`) and by count.
struct SpareTimerBuffers {
    typealias Entry = TimerHeap.Entry

    /// Kept buffers, each empty with a non-zero capacity.
    private var buffers = ContiguousArray<ContiguousArray<Entry>>()
    /// The kept buffers' capacities added up, in entries.
    private(set) var capacity = 0
    /// At most this many buffers are kept: the best-fit scan stays short.
    static let maxBuffers = 128

    /// Buffers kept.
    var count: Int { buffers.count }

    /// Keeps `buffer`, emptied, for reuse (or frees it: no capacity, or the
    /// smallest of a full set); leaves `buffer` empty without a buffer.
    mutating func give(_ buffer: inout ContiguousArray<Entry>) {
        var taken = ContiguousArray<Entry>()
        swap(&taken, &buffer)
        guard taken.capacity > 0 else { return }
        taken.removeAll(keepingCapacity: true)
        if buffers.count == Self.maxBuffers {
            guard let smallest = buffers.indices.min(by: { buffers[$0].capacity < buffers[$1].capacity }),
                  buffers[smallest].capacity < taken.capacity
            else { return }
            capacity -= buffers[smallest].capacity
            buffers.swapAt(smallest, buffers.count - 1)
            buffers.removeLast()
        }
        capacity += taken.capacity
        buffers.append(taken)
    }

    /// The smallest kept buffer with room for `minimum` entries, or nil.
    mutating func take(atLeast minimum: Int) -> ContiguousArray<Entry>? {
        var best = -1
        var bestCapacity = Int.max
        for index in buffers.indices {
            let candidate = buffers[index].capacity
            if candidate >= minimum && candidate < bestCapacity {
                best = index
                bestCapacity = candidate
                if candidate == minimum { break }
            }
        }
        guard best >= 0 else { return nil }
        buffers.swapAt(best, buffers.count - 1)
        capacity -= bestCapacity
        return buffers.removeLast()
    }

    /// Frees the largest buffers until at most `limit` entries' worth are kept.
    mutating func trim(to limit: Int) {
        while capacity > limit,
              let largest = buffers.indices.max(by: { buffers[$0].capacity < buffers[$1].capacity }) {
            capacity -= buffers[largest].capacity
            buffers.swapAt(largest, buffers.count - 1)
            buffers.removeLast()
        }
    }

    /// Frees every buffer.
    mutating func removeAll() {
        buffers = []
        capacity = 0
    }
}
