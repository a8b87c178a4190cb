import Testing
@testable import RingLoop

/// The wheel's due list as a plain value (a sorted run merged with a heap),
/// and the allocation-free sort behind the run.
@Suite("DueTimers")
struct DueTimersTests {
    typealias Entry = TimerHeap.Entry

    /// Entries with the given (deadline, sequence) keys; every entry holds a
    /// retain of a fresh node, as in the wheel.
    static func entries(_ keys: [(UInt64, UInt64)]) -> ContiguousArray<Entry> {
        ContiguousArray(keys.map { deadline, sequence in
            Entry(deadline: deadline, sequence: sequence,
                  node: .passRetained(TimerNode(deadline: Deadline(uptimeNanoseconds: deadline))))
        })
    }

    static func keys(_ entries: some Sequence<Entry>) -> [[UInt64]] {
        entries.map { [$0.deadline, $0.sequence] }
    }

    static func release(_ entries: some Sequence<Entry>) {
        for entry in entries { entry.node.release() }
    }

    /// Pops everything, releasing the retains; the keys in popping order.
    static func drain(_ due: inout DueTimers) -> [[UInt64]] {
        var popped: [[UInt64]] = []
        while due.top != nil {
            let entry = due.popTop()
            popped.append([entry.deadline, entry.sequence])
            entry.node.release()
        }
        return popped
    }

    @Test(arguments: [0, 1, 2, 16, 17, 100, 5_000])
    func sortPutsAnyInputInFiringOrder(count: Int) {
        var generator = SeededGenerator(seed: UInt64(count) + 1)
        // Few distinct deadlines, so the sequence decides most comparisons.
        let random = (0..<count).map { i in (generator.next() % 50, UInt64(i)) }.shuffled(using: &generator)
        let shapes: [[(UInt64, UInt64)]] = [
            random,
            random.sorted { ($0.0, $0.1) < ($1.0, $1.1) },
            random.sorted { ($0.0, $0.1) > ($1.0, $1.1) },
            (0..<count).map { i in (7, UInt64(count - i)) },
        ]
        for shape in shapes {
            var sorted = Self.entries(shape)
            sorted.withUnsafeMutableBufferPointer { $0.sortInFiringOrder() }
            let expected = shape.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map { [$0.0, $0.1] }
            #expect(Self.keys(sorted) == expected)
            Self.release(sorted)
        }
    }

    /// The radix sort of one tick: in scheduling order it needs no
    /// comparisons; out of it, or across ticks, its check falls back to the
    /// comparison sort. Every case must come out in firing order.
    @Test(arguments: [5, 33, 1_000, 20_000])
    func tickSortPutsAnyInputInFiringOrder(count: Int) {
        var generator = SeededGenerator(seed: UInt64(count))
        let tick = UInt64(7) << TimerWheel.tickShift
        let within = (UInt64(1) << TimerWheel.tickShift) - 1
        let inSchedulingOrder = (0..<count).map { i in (tick + generator.next() % 300, UInt64(i)) }
        let shapes: [[(UInt64, UInt64)]] = [
            inSchedulingOrder,
            inSchedulingOrder.shuffled(using: &generator),
            (0..<count).map { i in (tick + within - UInt64(i % 3), UInt64(i)) },
            (0..<count).map { i in (tick + (UInt64(i) << (TimerWheel.tickShift - 2)), UInt64(count - i)) },
        ]
        for shape in shapes {
            var sorted = Self.entries(shape)
            var spare = ContiguousArray(repeatElement(sorted[0], count: count + 3))
            var digits = ContiguousArray(repeating: -1, count: 256)
            spare.withUnsafeMutableBufferPointer { spare in
                digits.withUnsafeMutableBufferPointer { digits in
                    sorted.withUnsafeMutableBufferPointer { $0.sortTickInFiringOrder(spare: spare, digits: digits) }
                }
            }
            let expected = shape.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map { [$0.0, $0.1] }
            #expect(Self.keys(sorted) == expected)
            Self.release(sorted)
        }
    }

    /// Hands `slot`'s entries to `due`, as the wheel does with a drained slot.
    static func adopt(_ slot: ContiguousArray<TimerHeap.Entry>, into due: inout DueTimers) {
        var slot = slot
        slot.withUnsafeMutableBufferPointer { due.adopt($0) }
    }

    @Test func aRunAndTheHeapPopInOneFiringOrder() {
        var due = DueTimers()
        Self.adopt(Self.entries((0..<300).map { i in (UInt64((i * 7_919) % 97), UInt64(i)) }), into: &due)
        // Timers already due when inserted go to the heap, among the run's.
        for i in 0..<50 {
            due.push(Self.entries([(UInt64(i * 2), UInt64(1_000 + i))])[0])
        }
        let popped = Self.drain(&due)
        #expect(popped.count == 350)
        #expect(popped == popped.sorted { ($0[0], $0[1]) < ($1[0], $1[1]) })
        #expect(due.top == nil)
    }

    @Test func aFinishedRunsBufferComesBackForTheNextSlot() {
        var due = DueTimers()
        Self.adopt(Self.entries((0..<300).map { i in (UInt64(i), UInt64(i)) }), into: &due)
        _ = Self.drain(&due)
        let capacity = due.bufferCapacity
        Self.adopt(Self.entries([(500, 300)]), into: &due)
        #expect(due.bufferCapacity == capacity, "no new buffer for the next drained slot")
        #expect(Self.drain(&due) == [[500, 300]])
    }

    @Test func adoptingWhileARunIsUnfinishedKeepsEveryEntryInOrder() {
        var due = DueTimers()
        Self.adopt(Self.entries([(10, 0), (30, 1), (50, 2)]), into: &due)
        let head = due.popTop()
        #expect(head.deadline == 10)
        head.node.release()
        Self.adopt(Self.entries([(20, 3), (40, 4)]), into: &due)
        #expect(Self.drain(&due) == [[20, 3], [30, 1], [40, 4], [50, 2]])
    }

    @Test func deadEntriesAreRemovedFromTheRunAndTheHeapAndHandedBack() {
        var due = DueTimers()
        let slot = Self.entries((0..<10).map { i in (UInt64(i), UInt64(i)) })
        let runNodes = slot.map { $0.node.takeUnretainedValue() }
        Self.adopt(slot, into: &due)
        let heapEntries = Self.entries([(3, 20), (4, 21)])
        for entry in heapEntries { due.push(entry) }
        due.popTop().node.release()  // deadline 0, from the run
        // Odd deadlines die: five in the run, (3, 20) in the heap.
        for node in runNodes where node.deadline.uptimeNanoseconds % 2 == 1 { node.isLive = false }
        heapEntries[0].node.takeUnretainedValue().isLive = false
        var dead: [Unmanaged<TimerNode>] = []
        let removed = due.removeDead(into: &dead)
        #expect(removed == 6)
        #expect(dead.count == 5, "the run's dead come back for the caller to release")
        for node in dead { node.release() }
        #expect(Self.drain(&due) == [[2, 2], [4, 4], [4, 21], [6, 6], [8, 8]])
    }

    @Test func removeAllReturnsTheLiveTimersOfTheRunAndTheHeap() {
        var due = DueTimers()
        Self.adopt(Self.entries([(1, 0), (2, 1), (3, 2)]), into: &due)
        due.push(Self.entries([(0, 3)])[0])
        let first = due.popTop()
        #expect(first.sequence == 3)
        first.node.release()
        var removed = RemovedTimers()
        due.removeAll(into: &removed)
        let live = removed.nodes
        #expect(removed.closures.isEmpty)
        #expect(live.map(\.deadline.uptimeNanoseconds).sorted() == [1, 2, 3])
        #expect(live.allSatisfy { !$0.isLive && !$0.inHeap })
        #expect(due.top == nil)
    }
}
