extension UnsafeMutableBufferPointer where Element == TimerHeap.Entry {
    /// Sorts the entries of one wheel tick into firing order: a stable
    /// radix sort on the deadline's bits below the tick (two passes of a
    /// byte, through `spare`, which must hold as many entries, counting in
    /// `digits`, which must hold 256), checked, and finished by
    /// `sortInFiringOrder()` only if the check fails.
    ///
    /// A slot's entries arrive in scheduling order (a slot is empty when a
    /// cascade fills it, and later inserts have later sequences), so a
    /// stable sort by deadline is the firing order, at four sequential
    /// passes instead of a comparison sort's dozen mispredicted levels. The
    /// check makes that an optimisation, not an assumption.
    func sortTickInFiringOrder(
        spare: UnsafeMutableBufferPointer<TimerHeap.Entry>, digits: UnsafeMutableBufferPointer<Int>
    ) {
        precondition(spare.count >= count && digits.count >= 256)
        // The two byte-wide passes cover the bits below the tick.
        guard count > 32, TimerWheel.tickShift == 16, let base = baseAddress, let spareBase = spare.baseAddress else {
            sortInFiringOrder()
            return
        }
        // Two passes: the result ends up back in `self`. Entries from more
        // than one tick (ordered by their low bits only) fail the check below.
        Self.scatterByByte(from: base, to: spareBase, count: count, shift: 0, offsets: digits)
        Self.scatterByByte(from: spareBase, to: base, count: count, shift: 8, offsets: digits)
        for index in 1..<count where !base[index - 1].precedes(base[index]) {
            sortInFiringOrder()
            return
        }
    }

    /// One stable counting-sort pass on the deadline's byte at `shift`.
    private static func scatterByByte(
        from source: UnsafeMutablePointer<TimerHeap.Entry>,
        to target: UnsafeMutablePointer<TimerHeap.Entry>,
        count: Int, shift: UInt64, offsets: UnsafeMutableBufferPointer<Int>
    ) {
        for digit in 0..<256 { offsets[digit] = 0 }
        for index in 0..<count {
            offsets[Int(truncatingIfNeeded: source[index].deadline >> shift) & 0xFF] += 1
        }
        var total = 0
        for digit in 0..<256 {
            let digitCount = offsets[digit]
            offsets[digit] = total
            total += digitCount
        }
        for index in 0..<count {
            let entry = source[index]
            let digit = Int(truncatingIfNeeded: entry.deadline >> shift) & 0xFF
            (target + offsets[digit]).initialize(to: entry)
            offsets[digit] += 1
        }
    }

    /// Sorts the entries into firing order, (deadline, sequence), in place
    /// and without allocating: an introsort (quicksort with a median of
    /// three, insertion sort for short ranges, heapsort past a depth limit,
    /// so O(n log n) whatever the input).
    ///
    /// The standard library's `sort` is a merge sort that allocates a buffer
    /// of half the input; for a drained slot of thousands of timers that is
    /// a malloc of 1 KiB or more, which makes glibc consolidate its fast bins
    /// while they are full of the timer nodes just fired (a sixth of the
    /// CPU time of firing a million timers). Keys are unique (the sequence
    /// breaks ties), so stability does not matter.
    func sortInFiringOrder() {
        guard count > 1 else { return }
        let depthLimit = 2 * (Int.bitWidth - count.leadingZeroBitCount)
        introsort(0, count, depthLimit: depthLimit)
    }

    private func introsort(_ start: Int, _ end: Int, depthLimit: Int) {
        var start = start
        var end = end
        var depth = depthLimit
        while end - start > 16 {
            if depth == 0 {
                heapsort(start, end)
                return
            }
            depth -= 1
            let pivot = partition(start, end)
            // Recurse into the smaller side, loop on the larger: O(log n) stack.
            if pivot - start < end - pivot {
                introsort(start, pivot, depthLimit: depth)
                start = pivot
            } else {
                introsort(pivot, end, depthLimit: depth)
                end = pivot
            }
        }
        insertionSort(start, end)
    }

    /// Hoare partition around the median of the first, middle and last
    /// entries; returns `p` with every entry in `start..<p` preceding or
    /// equal to every entry in `p..<end`, both sides non-empty.
    private func partition(_ start: Int, _ end: Int) -> Int {
        let middle = start + (end - start) / 2
        if self[middle].precedes(self[start]) { swapAt(middle, start) }
        if self[end - 1].precedes(self[start]) { swapAt(end - 1, start) }
        if self[end - 1].precedes(self[middle]) { swapAt(end - 1, middle) }
        let pivot = self[middle]
        var low = start - 1
        var high = end
        while true {
            repeat { low += 1 } while self[low].precedes(pivot)
            repeat { high -= 1 } while pivot.precedes(self[high])
            if low >= high { return high + 1 }
            swapAt(low, high)
        }
    }

    private func insertionSort(_ start: Int, _ end: Int) {
        guard end - start > 1 else { return }
        for index in (start + 1)..<end {
            let entry = self[index]
            var hole = index
            while hole > start, entry.precedes(self[hole - 1]) {
                self[hole] = self[hole - 1]
                hole -= 1
            }
            self[hole] = entry
        }
    }

    private func heapsort(_ start: Int, _ end: Int) {
        let count = end - start
        var index = count / 2
        while index > 0 {
            index -= 1
            siftDown(start, index, count)
        }
        var last = count - 1
        while last > 0 {
            swapAt(start, start + last)
            siftDown(start, 0, last)
            last -= 1
        }
    }

    /// Max-heap sift over `self[base..<base + count]`, from `root`.
    private func siftDown(_ base: Int, _ root: Int, _ count: Int) {
        var parent = root
        let entry = self[base + parent]
        while true {
            var child = 2 * parent + 1
            guard child < count else { break }
            if child + 1 < count, self[base + child].precedes(self[base + child + 1]) { child += 1 }
            guard entry.precedes(self[base + child]) else { break }
            self[base + parent] = self[base + child]
            parent = child
        }
        self[base + parent] = entry
    }
}
