#if canImport(Glibc)
import Glibc
#endif

/// The slots of a `TimerWheel`, plus its scratch buffer: one growable
/// buffer of entries each, managed by hand.
///
/// They were an array of arrays: every append checked both arrays'
/// uniqueness and the inner one's capacity, four runtime calls, about half
/// the cost of placing a timer (perf, a million timers; a timer is placed
/// up to three times, once per cascade). Entries are plain words whose
/// retains are the wheel's business, so a buffer here is a malloc'd block
/// grown with realloc, and an append is a capacity check and a store.
///
/// Noncopyable because it owns its blocks: deinit frees them. It does not
/// release what the entries hold; the wheel takes every entry out first
/// (`TimerWheel.removeAll`).
struct TimerSlots: ~Copyable {
    typealias Entry = TimerHeap.Entry

    /// One slot's entries. A plain value so that the wheel can swap a slot
    /// with its scratch buffer; only `TimerSlots` allocates and frees one.
    struct Buffer {
        fileprivate(set) var base: UnsafeMutablePointer<Entry>?
        fileprivate(set) var count = 0
        fileprivate(set) var capacity = 0

        /// The entries, valid until the buffer next grows or is freed.
        var entries: UnsafeMutableBufferPointer<Entry> {
            UnsafeMutableBufferPointer(start: base, count: count)
        }

        var isEmpty: Bool { count == 0 }

        @inline(__always)
        mutating func append(_ entry: Entry) {
            if count == capacity { grow(toAtLeast: count + 1) }
            base.unsafelyUnwrapped[count] = entry
            count += 1
        }

        /// Makes room for `extra` more entries at once.
        mutating func reserve(_ extra: Int) {
            if count + extra > capacity { grow(toAtLeast: count + extra) }
        }

        /// Forgets the entries (their retains are the caller's by now),
        /// keeping the block.
        mutating func removeAll() { count = 0 }

        /// Drops the entries for which `drop` is true, keeping the rest in
        /// order (what the dropped ones hold is the caller's by now).
        mutating func removeAll(where drop: (Entry) -> Bool) {
            var kept = 0
            for index in 0..<count {
                let entry = base.unsafelyUnwrapped[index]
                if !drop(entry) {
                    base.unsafelyUnwrapped[kept] = entry
                    kept += 1
                }
            }
            count = kept
        }

        /// Grows by doubling, from `TimerSlots.firstCapacity`, so that a slot
        /// filled one entry at a time is copied O(1) times per entry.
        @inline(never)
        private mutating func grow(toAtLeast needed: Int) {
            var newCapacity = Swift.max(capacity * 2, TimerSlots.firstCapacity)
            while newCapacity < needed { newCapacity *= 2 }
            let bytes = newCapacity * MemoryLayout<Entry>.stride
            guard let block = realloc(base, bytes) else {
                fatalError("RingLoop: out of memory growing a timer wheel slot to \(bytes) bytes")
            }
            base = block.assumingMemoryBound(to: Entry.self)
            capacity = newCapacity
        }

        /// Frees the block; the buffer is empty afterwards.
        fileprivate mutating func release() {
            if let base { Glibc.free(base) }
            self = Buffer()
        }
    }

    /// A slot's first block: 32 entries (768 bytes), under the 1 KiB request
    /// that makes glibc merge its fast bins (see `FreedBlockMerging`).
    static let firstCapacity = 32

    private let buffers: UnsafeMutablePointer<Buffer>
    /// Slots, not counting the scratch buffer.
    let count: Int

    init(count: Int) {
        self.count = count
        buffers = .allocate(capacity: count + 1)
        buffers.initialize(repeating: Buffer(), count: count + 1)
    }

    deinit {
        for index in 0...count { buffers[index].release() }
        buffers.deinitialize(count: count + 1)
        buffers.deallocate()
    }

    /// Slot `index`, in place.
    subscript(index: Int) -> Buffer {
        @inline(__always) unsafeAddress {
            precondition(index >= 0 && index < count, "RingLoop: timer slot \(index) out of range")
            return UnsafePointer(buffers + index)
        }
        @inline(__always) unsafeMutableAddress {
            precondition(index >= 0 && index < count, "RingLoop: timer slot \(index) out of range")
            return buffers + index
        }
    }

    /// The scratch buffer: a drained slot's entries while they are re-placed.
    var scratch: Buffer {
        @inline(__always) unsafeAddress { UnsafePointer(buffers + count) }
        @inline(__always) unsafeMutableAddress { buffers + count }
    }

    /// Swaps slot `index` with the scratch buffer: the slot's entries become
    /// the scratch's, and the slot gets the scratch's (empty) block to reuse.
    @inline(__always)
    mutating func swapWithScratch(_ index: Int) {
        precondition(index >= 0 && index < count && buffers[count].isEmpty, "RingLoop: bad timer slot swap")
        swap(&buffers[index], &buffers[count])
    }

    /// Frees slot `index`'s block (or the scratch buffer's, for `count`);
    /// it must hold no entries.
    mutating func free(_ index: Int) {
        precondition(index >= 0 && index <= count && buffers[index].isEmpty, "RingLoop: freeing a timer slot in use")
        buffers[index].release()
    }

    /// Capacity of every block, in entries (tests).
    var capacity: Int {
        (0...count).reduce(0) { $0 + buffers[$1].capacity }
    }
}
